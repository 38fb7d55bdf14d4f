// inotify for content changes (IN_MODIFY, IN_CLOSE_WRITE) made by another process (natively) or on the
// host behind the Gofer (in the sandbox): watches DIR and DIR/f for IN_MODIFY | IN_CLOSE_WRITE |
// IN_CREATE, first makes its own changes (a write and a close of DIR/own, a write through a shared
// mapping, which raises no event on Linux) and prints their events (each once: the Sentry's own, not
// doubled by the host's), then creates DIR/ready; the caller's host-side script waits for it, appends
// to f, writes a new file g and makes the directory DIR/done. Prints the events until "done" is
// created, then the size lookups see for f and g (the sandbox's cached attributes must follow).
// Usage: inotify_host_content DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int in, wd, wdf;

static void masks(uint32_t m) {
    static const struct { uint32_t bit; const char *name; } names[] = {
        {IN_MODIFY, "MODIFY"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CREATE, "CREATE"}, {IN_ISDIR, "ISDIR"},
        {IN_ATTRIB, "ATTRIB"}, {IN_DELETE, "DELETE"}, {IN_IGNORED, "IGNORED"}, {IN_Q_OVERFLOW, "OVERFLOW"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) if (m & names[i].bit) printf(" %s", names[i].name);
}

/// Prints the events queued now (after a short wait); returns 1 if "done" was created.
static int drain(int waitMs) {
    char buf[8192] __attribute__((aligned(8)));
    int done = 0;
    struct pollfd pfd = {in, POLLIN, 0};
    if (poll(&pfd, 1, waitMs) <= 0) return 0;
    ssize_t n = read(in, buf, sizeof buf);
    if (n <= 0) return 0;
    for (char *q = buf; q < buf + n;) {
        struct inotify_event *e = (struct inotify_event *)q;
        printf("%s", e->wd == wd ? "dir" : (e->wd == wdf ? "f" : "other"));
        masks(e->mask);
        if (e->len) printf(" %s", e->name);
        printf("\n");
        if ((e->mask & IN_CREATE) && e->len && strcmp(e->name, "done") == 0) done = 1;
        q += sizeof *e + e->len;
    }
    return done;
}

static void size(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    if (stat(p, &st) == 0) printf("stat %s: size %ld\n", name, (long)st.st_size);
    else printf("stat %s: %s\n", name, strerror(errno));
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: inotify_host_content DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *dir = argv[1];
    char p[4096];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); return 1; }
    snprintf(p, sizeof p, "%s/f", dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    if (write(fd, "first\n", 6) != 6) perror("write f");
    close(fd);
    in = inotify_init1(IN_NONBLOCK);
    uint32_t mask = IN_MODIFY | IN_CLOSE_WRITE | IN_CREATE;
    wd = inotify_add_watch(in, dir, mask);
    wdf = inotify_add_watch(in, p, IN_MODIFY | IN_CLOSE_WRITE);
    printf("watches: %d %d\n", wd > 0, wdf > 0);
    size(dir, "f");

    // Our own changes: each event once.
    snprintf(p, sizeof p, "%s/own", dir);
    fd = open(p, O_CREAT | O_RDWR, 0644);
    if (write(fd, "own data", 8) != 8) perror("write own");
    drain(200);
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { perror("mmap"); return 1; }
    memcpy(m, "OWN", 3);
    msync(m, 4096, MS_SYNC);
    munmap(m, 4096);
    printf("after the mapped write:\n");
    drain(200);
    close(fd);
    drain(200);
    snprintf(p, sizeof p, "%s/f", dir);
    fd = open(p, O_WRONLY | O_APPEND);
    if (write(fd, "own line\n", 9) != 9) perror("write f");
    close(fd);
    drain(200);

    printf("host side:\n");
    snprintf(p, sizeof p, "%s/ready", dir);
    close(open(p, O_CREAT | O_RDONLY, 0644));
    int done = 0;
    for (int rounds = 0; !done && rounds < 200; rounds++) done = drain(15000);
    if (!done) printf("timed out waiting for events\n");
    size(dir, "f");
    size(dir, "g");
    printf("done\n");
    return 0;
}
