// Device numbers per mount, checked against Linux's rules (run natively and in the sandbox; the
// output, only check names and ok/FAIL, must be the same):
//  - stat's st_dev of an object equals the major:minor /proc/self/mountinfo gives its mount;
//  - statx's stx_dev_major/minor and fstat agree with stat;
//  - new files and directories report their mount's device (an overlay's for its upper layer);
//  - different file system instances (/, /dev/shm, /dev, /proc, a tmpfs mounted here) differ;
//  - /proc/self/maps shows a file mapping's device, inode and offset as fstat does.
// Usage: stdev DIR [mount]   (DIR: a fresh writable directory; mount: also mount two tmpfs, as root)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int failures;

static void check(const char *what, int ok, const char *detail) {
    if (ok) printf("ok: %s\n", what);
    else { printf("FAIL: %s\n", what); fprintf(stderr, "FAIL %s: %s\n", what, detail); failures++; }
}

struct mnt { char point[PATH_MAX]; char root[PATH_MAX]; unsigned major, minor; char type[64]; };
static struct mnt mounts[512];
static int nmounts;

static void load_mountinfo(void) {
    FILE *f = fopen("/proc/self/mountinfo", "r");
    if (!f) { perror("mountinfo"); exit(1); }
    char line[4096];
    while (nmounts < 512 && fgets(line, sizeof line, f)) {
        struct mnt *m = &mounts[nmounts];
        int id, parent;
        if (sscanf(line, "%d %d %u:%u %4095s %4095s", &id, &parent, &m->major, &m->minor, m->root, m->point) != 6) continue;
        char *dash = strstr(line, " - ");
        if (!dash || sscanf(dash + 3, "%63s", m->type) != 1) continue;
        nmounts++;
    }
    fclose(f);
}

/// The mount holding canonical path `p`: the longest mount point that prefixes it, the last one
/// listed when mounts are stacked.
static struct mnt *mount_of(const char *p) {
    struct mnt *best = NULL;
    size_t bestLen = 0;
    for (int i = 0; i < nmounts; i++) {
        const char *mp = mounts[i].point;
        size_t n = strlen(mp);
        int prefix = strcmp(mp, "/") == 0 || (strncmp(p, mp, n) == 0 && (p[n] == '/' || p[n] == 0));
        if (prefix && (strcmp(mp, "/") == 0 ? 1 : n) >= bestLen) { best = &mounts[i]; bestLen = strcmp(mp, "/") == 0 ? 1 : n; }
    }
    return best;
}

/// stat, statx, fstat and mountinfo agree on `path`'s device; returns it.
static dev_t agree(const char *name, const char *path) {
    char what[256], detail[2 * PATH_MAX], real[PATH_MAX];
    struct stat st, fst;
    if (lstat(path, &st) != 0) { snprintf(what, sizeof what, "%s: stat", name); check(what, 0, strerror(errno)); return 0; }
    struct statx sx;
    snprintf(what, sizeof what, "%s: statx agrees with stat", name);
    int r = statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx);
    snprintf(detail, sizeof detail, "r=%d statx %u:%u stat %u:%u", r, sx.stx_dev_major, sx.stx_dev_minor, major(st.st_dev), minor(st.st_dev));
    check(what, r == 0 && sx.stx_dev_major == major(st.st_dev) && sx.stx_dev_minor == minor(st.st_dev) && sx.stx_ino == st.st_ino, detail);
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd >= 0) {
        snprintf(what, sizeof what, "%s: fstat agrees with stat", name);
        r = fstat(fd, &fst);
        snprintf(detail, sizeof detail, "fstat %u:%u ino %lu stat %u:%u ino %lu", major(fst.st_dev), minor(fst.st_dev),
                 (unsigned long)fst.st_ino, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
        check(what, r == 0 && fst.st_dev == st.st_dev && fst.st_ino == st.st_ino, detail);
        close(fd);
    }
    if (!realpath(path, real)) strcpy(real, path);
    struct mnt *m = mount_of(real);
    snprintf(what, sizeof what, "%s: mountinfo agrees with stat", name);
    snprintf(detail, sizeof detail, "mount %s %u:%u, stat %u:%u", m ? m->point : "?", m ? m->major : 0, m ? m->minor : 0,
             major(st.st_dev), minor(st.st_dev));
    check(what, m && m->major == major(st.st_dev) && m->minor == minor(st.st_dev), detail);
    return st.st_dev;
}

static void differ(const char *what, dev_t a, dev_t b) {
    char detail[128];
    snprintf(detail, sizeof detail, "%u:%u and %u:%u", major(a), minor(a), major(b), minor(b));
    check(what, a != b, detail);
}

static void same(const char *what, dev_t a, dev_t b) {
    char detail[128];
    snprintf(detail, sizeof detail, "%u:%u and %u:%u", major(a), minor(a), major(b), minor(b));
    check(what, a == b, detail);
}

/// /proc/self/maps shows a mapping of `path` at offset 4096 with its device and inode.
static void maps_agree(const char *path) {
    int fd = open(path, O_RDWR);
    char page[8192];
    memset(page, 'm', sizeof page);
    if (fd < 0 || write(fd, page, sizeof page) != (ssize_t)sizeof page) { check("maps: file", 0, "open/write"); return; }
    struct stat st;
    fstat(fd, &st);
    for (int shared = 0; shared < 2; shared++) {
        char *p = mmap(NULL, 4096, PROT_READ, shared ? MAP_SHARED : MAP_PRIVATE, fd, 4096);
        if (p == MAP_FAILED) { check("maps: mmap", 0, "mmap"); return; }
        FILE *f = fopen("/proc/self/maps", "r");
        char line[4096], detail[2 * PATH_MAX] = "no line";
        int found = 0, ok = 0;
        unsigned long start, end, off, ino;
        unsigned ma, mi;
        char perms[8];
        while (f && fgets(line, sizeof line, f)) {
            if (sscanf(line, "%lx-%lx %7s %lx %x:%x %lu", &start, &end, perms, &off, &ma, &mi, &ino) != 7) continue;
            if (start != (unsigned long)p) continue;
            found = 1;
            ok = off == 4096 && ma == major(st.st_dev) && mi == minor(st.st_dev) && ino == st.st_ino;
            snprintf(detail, sizeof detail, "maps: %s fstat %u:%u %lu", line, major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
        }
        if (f) fclose(f);
        check(shared ? "maps: shared mapping shows device, inode, offset" : "maps: private mapping shows device, inode, offset",
              found && ok, detail);
        munmap(p, 4096);
    }
    close(fd);
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: stdev DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *dir = argv[1];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) { perror(dir); return 1; }
    char sub[PATH_MAX], file[PATH_MAX], shmfile[PATH_MAX];
    snprintf(sub, sizeof sub, "%s/newdir", dir);
    snprintf(file, sizeof file, "%s/newfile", dir);
    snprintf(shmfile, sizeof shmfile, "/dev/shm/stdev-%d", (int)getpid());
    mkdir(sub, 0755);
    close(open(file, O_CREAT | O_WRONLY, 0644));
    close(open(shmfile, O_CREAT | O_WRONLY, 0644));
    load_mountinfo();

    dev_t root = agree("/", "/");
    dev_t etc = agree("/etc/passwd", "/etc/passwd");
    dev_t d = agree("dir", dir);
    dev_t nd = agree("new directory", sub);
    dev_t nf = agree("new file", file);
    dev_t shm = agree("/dev/shm", "/dev/shm");
    dev_t shmf = agree("new file in /dev/shm", shmfile);
    dev_t devd = agree("/dev", "/dev");
    dev_t proc = agree("/proc", "/proc");
    agree("/proc/self/status", "/proc/self/status");

    same("/ and /etc/passwd: one mount, one device", root, etc);
    same("dir and its new directory", d, nd);
    same("dir and its new file", d, nf);
    same("/dev/shm and its new file", shm, shmf);
    differ("new file and /dev/shm: different mounts", nf, shm);
    differ("/ and /dev/shm", root, shm);
    differ("/ and /dev", root, devd);
    differ("/ and /proc", root, proc);
    differ("/dev and /dev/shm", devd, shm);

    // Two tmpfs instances have two devices (when asked: mount needs root).
    char t1[PATH_MAX], t2[PATH_MAX];
    snprintf(t1, sizeof t1, "%s/t1", dir);
    snprintf(t2, sizeof t2, "%s/t2", dir);
    mkdir(t1, 0755);
    mkdir(t2, 0755);
    if (argc > 2 && strcmp(argv[2], "mount") == 0 && mount("tmpfs", t1, "tmpfs", 0, "mode=755") == 0 && mount("tmpfs", t2, "tmpfs", 0, "mode=755") == 0) {
        nmounts = 0;
        load_mountinfo();
        char f1[PATH_MAX + 8];
        snprintf(f1, sizeof f1, "%s/x", t1);
        close(open(f1, O_CREAT | O_WRONLY, 0644));
        dev_t a = agree("tmpfs 1", t1), b = agree("tmpfs 2", t2), c = agree("file in tmpfs 1", f1);
        differ("two tmpfs mounts", a, b);
        differ("tmpfs and /dev/shm", a, shm);
        same("tmpfs 1 and its file", a, c);
        umount(t1);
        umount(t2);
    } else {
        printf("tmpfs mounts skipped\n");
    }
    rmdir(t1);
    rmdir(t2);

    maps_agree(file);
    unlink(shmfile);
    printf(failures ? "failed\n" : "done\n");
    return failures ? 1 : 0;
}
