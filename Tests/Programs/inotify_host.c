// inotify for changes made by another process (natively) or on the host behind the Gofer (in the
// sandbox, --overlay2 none or a bind mount): watches DIR and DIR/watched, creates DIR/ready (the
// caller's host-side script waits for it, then creates, renames, chmods and removes files there and
// finally makes the directory DIR/done: one event, so nothing follows it), prints the events until
// "done" is created, then what lookups see (the sandbox's dentry cache must follow the host).
// Usage: inotify_host DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

static void masks(uint32_t m) {
    static const struct { uint32_t bit; const char *name; } names[] = {
        {IN_ATTRIB, "ATTRIB"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"}, {IN_CREATE, "CREATE"},
        {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}, {IN_Q_OVERFLOW, "OVERFLOW"}, {IN_MODIFY, "MODIFY"},
        {IN_ACCESS, "ACCESS"}, {IN_OPEN, "OPEN"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"}, {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) if (m & names[i].bit) printf(" %s", names[i].name);
}

static void look(const char *dir, const char *name) {
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int r = stat(p, &st);
    printf("stat %s: %s", name, r == 0 ? "OK" : strerror(errno));
    if (r == 0) printf(" mode %o", (unsigned)(st.st_mode & 07777));
    printf("\n");
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: inotify_host DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *dir = argv[1];
    char p[4096];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); return 1; }
    snprintf(p, sizeof p, "%s/watched", dir);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    int in = inotify_init1(IN_NONBLOCK);
    uint32_t mask = IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
    int wd = inotify_add_watch(in, dir, mask);
    int wd2 = inotify_add_watch(in, p, IN_ATTRIB | IN_DELETE_SELF);
    printf("watches: %d %d\n", wd > 0, wd2 > 0);
    look(dir, "watched");   // cached by the sandbox from here on
    snprintf(p, sizeof p, "%s/ready", dir);
    close(open(p, O_CREAT | O_WRONLY, 0644));

    char buf[8192] __attribute__((aligned(8)));
    uint32_t lastCookie = 0;
    int done = 0;
    for (int rounds = 0; !done && rounds < 1000; rounds++) {
        struct pollfd pfd = {in, POLLIN, 0};
        if (poll(&pfd, 1, 15000) <= 0) { printf("timed out waiting for events\n"); break; }
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EAGAIN) continue;
        if (n <= 0) { printf("read: %s\n", strerror(errno)); break; }
        for (char *q = buf; q < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)q;
            printf("%s", e->wd == wd ? "dir" : (e->wd == wd2 ? "watched" : "other"));
            masks(e->mask);
            if (e->len) printf(" %s", e->name);
            if (e->mask & IN_MOVED_FROM) lastCookie = e->cookie;
            if (e->mask & IN_MOVED_TO) printf(" (cookie %s)", e->cookie && e->cookie == lastCookie ? "paired" : "unpaired");
            printf("\n");
            if ((e->mask & IN_CREATE) && e->len && strcmp(e->name, "done") == 0) done = 1;
            q += sizeof *e + e->len;
        }
    }
    look(dir, "watched");
    look(dir, "h1");
    look(dir, "h2");
    look(dir, "kept");
    look(dir, "done");
    printf("done\n");
    return 0;
}
