// O_TMPFILE and linkat, run natively and in the sandbox (on the overlay, on a directory the Gofer
// serves directly with --overlay2 none, and on a bind mount): an unnamed file is written, named with
// linkat(fd, "", dir, name, AT_EMPTY_PATH) and with linkat(AT_FDCWD, "/proc/self/fd/N", dir, name,
// AT_SYMLINK_FOLLOW) (glibc's and most programs' way), written again after naming; O_TMPFILE|O_EXCL
// files can never be named; the error cases. Every line is deterministic so outputs compare
// exactly. The files named here are left in DIR for the caller to check from the host side.
// Usage: tmpfile_link DIR
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"

static const char *dir;

static char *P(const char *name) {
    static char buf[4][4096];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static void contents(const char *name) {
    char b[256];
    int fd = open(P(name), O_RDONLY);
    if (fd < 0) { printf("  %s: %s\n", name, en(errno)); return; }
    ssize_t n = read(fd, b, sizeof b - 1);
    close(fd);
    b[n < 0 ? 0 : n] = 0;
    printf("  %s: \"%s\"\n", name, b);
}

static void fdstat(const char *what, int fd) {
    struct stat st;
    if (fstat(fd, &st) != 0) { printf("  %s fstat: %s\n", what, en(errno)); return; }
    printf("  %s: nlink %lu mode %o size %ld reg %d\n", what, (unsigned long)st.st_nlink,
           (unsigned)(st.st_mode & 07777), (long)st.st_size, S_ISREG(st.st_mode));
}

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/// The directory's names, sorted (an unnamed file never shows up).
static void listing(const char *what) {
    char *names[64];
    int n = 0;
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 64) {
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names[n++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("%s:", what);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

static void via_proc(const char *what, int fd, const char *name) {
    char link[64];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    R(what, linkat(AT_FDCWD, link, AT_FDCWD, P(name), AT_SYMLINK_FOLLOW));
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: tmpfile_link DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    dir = argv[1];
    umask(022);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) { perror(dir); return 1; }
    chmod(dir, 0777);

    // Named with AT_EMPTY_PATH, then written again: the name and the descriptor are one file.
    int fd = open(dir, O_TMPFILE | O_RDWR, 0640);
    printf("O_TMPFILE: %s\n", fd >= 0 ? "OK" : en(errno));
    if (fd < 0) return 1;
    R("write unnamed", write(fd, "unnamed data", 12));
    fdstat("unnamed", fd);
    char proc[64], target[4096];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    ssize_t tl = readlink(proc, target, sizeof target - 1);
    target[tl < 0 ? 0 : tl] = 0;
    printf("  proc link: in dir %d, '#' name %d, deleted %d\n", strncmp(target, dir, strlen(dir)) == 0,
           strstr(target, "/#") != NULL, tl > 10 && strcmp(target + tl - 10, " (deleted)") == 0);
    listing("listing before linkat");
    R("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("named"), AT_EMPTY_PATH));
    fdstat("named", fd);
    contents("named");
    R("write after naming", pwrite(fd, " and more", 9, 12));
    contents("named");
    R("second name, AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("named2"), AT_EMPTY_PATH));
    fdstat("two names", fd);
    R("linkat onto an existing name", linkat(fd, "", AT_FDCWD, P("named"), AT_EMPTY_PATH));
    close(fd);

    // Named through /proc/self/fd with AT_SYMLINK_FOLLOW; sized with ftruncate before.
    fd = open(dir, O_TMPFILE | O_WRONLY, 0600);
    printf("O_TMPFILE O_WRONLY: %s\n", fd >= 0 ? "OK" : en(errno));
    if (fd >= 0) {
        R("write", write(fd, "via proc", 8));
        R("ftruncate 100", ftruncate(fd, 100));
        R("fchmod 0604", fchmod(fd, 0604));
        via_proc("linkat /proc/self/fd AT_SYMLINK_FOLLOW", fd, "viaproc");
        fdstat("viaproc", fd);
        struct stat st;
        R("stat viaproc", stat(P("viaproc"), &st));
        printf("  viaproc: size %ld mode %o\n", (long)st.st_size, (unsigned)(st.st_mode & 07777));
        close(fd);
    }

    // Closed without a name: gone.
    fd = open(dir, O_TMPFILE | O_RDWR, 0600);
    R("write dropped", write(fd, "dropped", 7));
    close(fd);

    // O_EXCL: never linkable, by either way.
    int ex = open(dir, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    printf("O_TMPFILE|O_EXCL: %s\n", ex >= 0 ? "OK" : en(errno));
    if (ex >= 0) {
        R("write excl", write(ex, "secret", 6));
        R("linkat O_EXCL AT_EMPTY_PATH", linkat(ex, "", AT_FDCWD, P("excl1"), AT_EMPTY_PATH));
        via_proc("linkat O_EXCL via /proc", ex, "excl2");
        fdstat("excl", ex);
        close(ex);
    }

    // Errors.
    R("O_TMPFILE O_RDONLY", open(dir, O_TMPFILE | O_RDONLY, 0600));
    R("O_TMPFILE on a file", open(P("named"), O_TMPFILE | O_RDWR, 0600));
    R("O_TMPFILE missing dir", open(P("nodir"), O_TMPFILE | O_RDWR, 0600));
    R("O_TMPFILE|O_CREAT", open(dir, O_TMPFILE | O_CREAT | O_RDWR, 0600));
    R("linkat AT_EMPTY_PATH of a directory", linkat(open(dir, O_RDONLY | O_DIRECTORY), "", AT_FDCWD, P("dirlink"), AT_EMPTY_PATH));

    // A non-root user: may make a tmpfile in a 0777 directory and name it through /proc (whether
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH depends on the kernel version: not compared).
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) != 0 || setuid(65534) != 0) { printf("setuid failed\n"); _exit(1); }
        int u = open(dir, O_TMPFILE | O_RDWR, 0644);
        printf("user O_TMPFILE: %s\n", u >= 0 ? "OK" : en(errno));
        if (u >= 0) {
            R("user write", write(u, "user's", 6));
            via_proc("user linkat via /proc", u, "user2");
            struct stat st;
            R("user stat user2", stat(P("user2"), &st));
            printf("  user2 uid %u\n", (unsigned)st.st_uid);
        }
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("user child exit %d\n", WEXITSTATUS(status));

    listing("listing at the end");
    contents("named2");
    contents("viaproc");
    contents("user2");
    printf("done\n");
    return 0;
}
