// Access times under Linux's default relatime (run natively and in the sandbox; the outputs,
// "updated" or "kept" per case, must be the same): a read updates atime when it is not after mtime
// or ctime; not when it is (a second read, a future atime); never through O_NOATIME; writes leave
// atime alone; getdents updates a directory's; readlink and following a symlink update the link's
// (a new link's atime equals its mtime); mmap updates the file's. With "mount": a noatime tmpfs keeps
// atime, a strictatime one updates it at every read.
// Usage: atime DIR [mount]
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void nap(void) { struct timespec ts = {0, 30 * 1000 * 1000}; nanosleep(&ts, NULL); }

static struct timespec atime_of(const char *p) {
    struct stat st;
    if (stat(p, &st) != 0) { perror(p); exit(1); }
    return st.st_atim;
}

static struct timespec latime_of(const char *p) {
    struct stat st;
    if (lstat(p, &st) != 0) { perror(p); exit(1); }
    return st.st_atim;
}

static int same(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

/// Sets atime and mtime `da` and `dm` seconds from now (ctime becomes now), then waits a tick.
static void set_times(const char *p, long da, long dm) {
    struct timespec now, t[2];
    clock_gettime(CLOCK_REALTIME, &now);
    t[0] = (struct timespec){now.tv_sec + da, 0};
    t[1] = (struct timespec){now.tv_sec + dm, 0};
    if (utimensat(AT_FDCWD, p, t, 0) != 0) { perror("utimensat"); exit(1); }
    nap();
}

static void report(const char *what, struct timespec before, const char *p) {
    printf("%s: %s\n", what, same(before, atime_of(p)) ? "kept" : "updated");
}

static void read_one(const char *p, int flags, int use_pread) {
    char c;
    int fd = open(p, O_RDONLY | flags);
    if (fd < 0) { printf("open %s: %s\n", p, strerror(errno)); return; }
    if ((use_pread ? pread(fd, &c, 1, 0) : read(fd, &c, 1)) != 1) printf("read failed\n");
    close(fd);
}

static void cases(const char *dir, const char *tag) {
    char f[4096], sub[4096], what[256];
    snprintf(f, sizeof f, "%s/file", dir);
    snprintf(sub, sizeof sub, "%s/sub", dir);
    int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "hello\n", 6) != 6) { perror(f); exit(1); }
    close(fd);
    mkdir(sub, 0755);

    set_times(f, -1000, -500);
    struct timespec b = atime_of(f);
    read_one(f, 0, 0);
    snprintf(what, sizeof what, "%s: read with atime before mtime", tag); report(what, b, f);
    nap();
    b = atime_of(f);
    read_one(f, 0, 0);
    snprintf(what, sizeof what, "%s: second read", tag); report(what, b, f);

    set_times(f, -1000, -500);
    b = atime_of(f);
    read_one(f, 0, 1);
    snprintf(what, sizeof what, "%s: pread with atime before mtime", tag); report(what, b, f);

    set_times(f, 1000, -500);
    b = atime_of(f);
    read_one(f, 0, 0);
    snprintf(what, sizeof what, "%s: read with atime in the future", tag); report(what, b, f);

    set_times(f, -1000, -500);
    b = atime_of(f);
    read_one(f, O_NOATIME, 0);
    snprintf(what, sizeof what, "%s: read through O_NOATIME", tag); report(what, b, f);

    set_times(f, -1000, -500);
    b = atime_of(f);
    fd = open(f, O_WRONLY);
    if (fd < 0 || write(fd, "x", 1) != 1) perror("write");
    close(fd);
    snprintf(what, sizeof what, "%s: write", tag); report(what, b, f);

    set_times(sub, -1000, -500);
    b = atime_of(sub);
    DIR *d = opendir(sub);
    while (d && readdir(d)) {}
    if (d) closedir(d);
    snprintf(what, sizeof what, "%s: getdents with atime before mtime", tag); report(what, b, sub);

    // Symlinks: a new one has atime == mtime, so its first read updates atime under relatime.
    char l1[4200], l2[4200], buf[64];
    struct stat st;
    snprintf(l1, sizeof l1, "%s/link1", dir);
    snprintf(l2, sizeof l2, "%s/link2", dir);
    unlink(l1);
    unlink(l2);
    if (symlink("file", l1) != 0 || symlink("file", l2) != 0) { perror("symlink"); exit(1); }
    nap();
    b = latime_of(l1);
    if (readlink(l1, buf, sizeof buf) != 4) printf("readlink failed\n");
    snprintf(what, sizeof what, "%s: readlink of a new symlink", tag);
    printf("%s: %s\n", what, same(b, latime_of(l1)) ? "kept" : "updated");
    nap();
    b = latime_of(l1);
    if (readlink(l1, buf, sizeof buf) != 4) printf("readlink failed\n");
    snprintf(what, sizeof what, "%s: second readlink", tag);
    printf("%s: %s\n", what, same(b, latime_of(l1)) ? "kept" : "updated");
    b = latime_of(l2);
    if (stat(l2, &st) != 0) printf("stat through link failed\n");
    snprintf(what, sizeof what, "%s: following a new symlink", tag);
    printf("%s: %s\n", what, same(b, latime_of(l2)) ? "kept" : "updated");

    // mmap accesses the file (without touching the pages).
    static const int kinds[2] = {MAP_PRIVATE, MAP_SHARED};
    for (int k = 0; k < 2; k++) {
        const char *kind = k ? "MAP_SHARED" : "MAP_PRIVATE";
        set_times(f, -1000, -500);
        b = atime_of(f);
        fd = open(f, O_RDONLY);
        void *m = mmap(NULL, 4096, PROT_READ, kinds[k], fd, 0);
        if (m == MAP_FAILED) perror("mmap");
        snprintf(what, sizeof what, "%s: %s mmap with atime before mtime", tag, kind); report(what, b, f);
        nap();
        b = atime_of(f);
        void *m2 = mmap(NULL, 4096, PROT_READ, kinds[k], fd, 0);
        snprintf(what, sizeof what, "%s: %s second mmap", tag, kind); report(what, b, f);
        munmap(m, 4096);
        munmap(m2, 4096);
        close(fd);
    }
    set_times(f, -1000, -500);
    b = atime_of(f);
    fd = open(f, O_RDONLY | O_NOATIME);
    void *m = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    snprintf(what, sizeof what, "%s: mmap through O_NOATIME", tag); report(what, b, f);
    munmap(m, 4096);
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: atime DIR [mount]\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *dir = argv[1];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); return 1; }
    cases(dir, "dir");
    if (argc > 2 && strcmp(argv[2], "mount") == 0) {
        char m[4096], f[4200];
        snprintf(m, sizeof m, "%s/m", dir);
        snprintf(f, sizeof f, "%s/file", m);
        mkdir(m, 0755);
        if (mount("tmpfs", m, "tmpfs", 0, "mode=755") != 0) { perror("mount"); return 1; }
        cases(m, "tmpfs");
        if (mount(NULL, m, NULL, MS_REMOUNT | MS_NOATIME, NULL) != 0) perror("remount noatime");
        set_times(f, -1000, -500);
        struct timespec b = atime_of(f);
        read_one(f, 0, 0);
        report("noatime tmpfs: read with atime before mtime", b, f);
        if (mount(NULL, m, NULL, MS_REMOUNT | MS_STRICTATIME, NULL) != 0) perror("remount strictatime");
        read_one(f, 0, 0);
        nap();
        b = atime_of(f);
        read_one(f, 0, 0);
        report("strictatime tmpfs: second read", b, f);
        umount(m);
        rmdir(m);
    }
    printf("done\n");
    return 0;
}
