// Path resolution and file-system semantics, run natively and in the sandbox on a fresh directory
// (argv[1]); every line is deterministic (no inode numbers or times) so outputs compare exactly.
// Covers symlink loops, "..", trailing slashes, O_NOFOLLOW, O_PATH, AT_EMPTY_PATH, O_EXCL, O_TRUNC,
// O_APPEND, renameat2 flags, link counts, unlink of an open file, ftruncate, getdents after
// create/unlink, FIFOs, utimensat, chmod, ENAMETOOLONG, readlink errors.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include "check.h"

static char D[512];
static char *P(const char *rel) { static char b[4][1024]; static int i; i = (i + 1) % 4; snprintf(b[i], 1024, "%s/%s", D, rel); return b[i]; }

static void put(const char *rel, const char *text) {
    int fd = open(P(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { printf("put %s: %s\n", rel, en(errno)); return; }
    if (write(fd, text, strlen(text)) < 0) printf("write %s failed\n", rel);
    close(fd);
}
static void show(const char *rel) {
    char buf[256] = {0};
    int fd = open(P(rel), O_RDONLY);
    if (fd < 0) { printf("cat %s: %s\n", rel, en(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    for (ssize_t i = 0; i < n; i++) if (buf[i] == 0) buf[i] = '0';
    printf("cat %s: [%.*s]\n", rel, (int)(n < 0 ? 0 : n), buf);
}
static int cmp(const void *a, const void *b) { return strcmp(*(char **)a, *(char **)b); }
static void list(const char *rel) {
    int fd = open(P(rel), O_RDONLY | O_DIRECTORY);
    if (fd < 0) { printf("ls %s: %s\n", rel, en(errno)); return; }
    char buf[4096], *names[256];
    int count = 0;
    long n;
    while ((n = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64 *d = (struct dirent64 *)(buf + off);
            if (count < 256) names[count++] = strdup(d->d_name);
            off += d->d_reclen;
        }
    }
    close(fd);
    qsort(names, count, sizeof(char *), cmp);
    printf("ls %s:", rel);
    for (int i = 0; i < count; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}
static void nlink(const char *rel) {
    struct stat st;
    if (lstat(P(rel), &st) < 0) { printf("nlink %s: %s\n", rel, en(errno)); return; }
    printf("nlink %s: %lu size %ld\n", rel, (unsigned long)st.st_nlink, (long)st.st_size);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    snprintf(D, sizeof D, "%s", argv[1]);
    struct stat st;
    R("mkdir D", mkdir(D, 0755));
    R("mkdir a", mkdir(P("a"), 0755));
    R("mkdir a again", mkdir(P("a"), 0755));
    put("a/f", "hello");
    show("a/f");

    // Symlinks: loops, dangling, chains, O_NOFOLLOW, O_PATH.
    R("symlink l1", symlink("l2", P("l1")));
    R("symlink l2", symlink("l1", P("l2")));
    R("open loop", open(P("l1"), O_RDONLY));
    R("stat loop", stat(P("l1"), &st));
    R("lstat loop", lstat(P("l1"), &st));
    R("symlink dangling", symlink("nowhere", P("dang")));
    R("open dangling", open(P("dang"), O_RDONLY));
    R("symlink rel", symlink("a/f", P("tof")));
    R("symlink dir", symlink("a", P("toa")));
    show("tof");
    show("toa/f");
    R("open O_NOFOLLOW link", open(P("tof"), O_RDONLY | O_NOFOLLOW));
    int pfd = open(P("tof"), O_PATH | O_NOFOLLOW);
    printf("O_PATH|O_NOFOLLOW: %s\n", pfd >= 0 ? "OK" : en(errno));
    if (pfd >= 0) {
        R("fstatat AT_EMPTY_PATH link", fstatat(pfd, "", &st, AT_EMPTY_PATH));
        printf("  is link: %d\n", S_ISLNK(st.st_mode));
        char t[64] = {0};
        R("readlinkat empty", readlinkat(pfd, "", t, sizeof t));
        printf("  target: %s\n", t);
        char b[4];
        R("read O_PATH", read(pfd, b, 1));
        close(pfd);
    }
    int dfd = open(P("a"), O_RDONLY | O_DIRECTORY);
    R("fstatat AT_EMPTY_PATH dir", fstatat(dfd, "", &st, AT_EMPTY_PATH));
    printf("  is dir: %d\n", S_ISDIR(st.st_mode));
    R("fstatat no flag empty", fstatat(dfd, "", &st, 0));
    R("openat rel", openat(dfd, "f", O_RDONLY));
    R("openat ..", openat(dfd, "../a/f", O_RDONLY));
    R("readlink non-link", readlink(P("a/f"), (char[8]){0}, 8));
    R("symlink exists", symlink("x", P("tof")));

    // "..": through a symlinked directory ".." is lexical in the target, not the link's parent.
    R("stat a/../a/f", stat(P("a/../a/f"), &st));
    R("stat toa/../a/f", stat(P("toa/../a/f"), &st));
    R("stat a/f/..", stat(P("a/f/.."), &st));
    R("chdir a", chdir(P("a")));
    R("open ../a/f", open("../a/f", O_RDONLY));
    R("stat /..", stat("/../../..", &st));
    printf("  root is dir: %d\n", S_ISDIR(st.st_mode));

    // Trailing slashes.
    R("open file/", open(P("a/f/"), O_RDONLY));
    R("stat file/", stat(P("a/f/"), &st));
    R("stat dir/", stat(P("a/"), &st));
    R("create new/", open(P("a/new/"), O_WRONLY | O_CREAT, 0644));
    R("mkdir n/", mkdir(P("n/"), 0755));
    R("rmdir n/", rmdir(P("n/")));
    R("unlink file/", unlink(P("a/f/")));
    R("stat link-to-dir/", stat(P("toa/"), &st));
    R("lstat link-to-dir/ follows", lstat(P("toa/"), &st));
    printf("  is dir: %d\n", S_ISDIR(st.st_mode));

    // Open flags.
    R("O_CREAT|O_EXCL existing", open(P("a/f"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    R("O_CREAT|O_EXCL link", open(P("dang"), O_WRONLY | O_CREAT | O_EXCL, 0644));
    R("O_DIRECTORY on file", open(P("a/f"), O_RDONLY | O_DIRECTORY));
    R("O_WRONLY on dir", open(P("a"), O_WRONLY));
    R("O_RDWR|O_CREAT on dir", open(P("a"), O_RDWR | O_CREAT, 0644));
    R("open missing", open(P("a/missing"), O_RDONLY));
    R("open in missing dir", open(P("nodir/x"), O_RDONLY | O_CREAT, 0644));
    R("open through file", open(P("a/f/x"), O_RDONLY));
    put("t", "0123456789");
    int tfd = open(P("t"), O_WRONLY | O_TRUNC);
    nlink("t");
    close(tfd);
    put("ap", "hello");
    int afd = open(P("ap"), O_RDWR | O_APPEND);
    lseek(afd, 0, SEEK_SET);
    R("append write", write(afd, "abc", 3));
    printf("  offset after append: %ld\n", (long)lseek(afd, 0, SEEK_CUR));
    R("pwrite append", pwrite(afd, "Z", 1, 0));
    fcntl(afd, F_SETFL, 0);
    lseek(afd, 0, SEEK_SET);
    R("write after clearing O_APPEND", write(afd, "X", 1));
    close(afd);
    show("ap");

    // ftruncate.
    int ffd = open(P("tr"), O_RDWR | O_CREAT, 0644);
    R("write tr", write(ffd, "abcdef", 6));
    R("ftruncate 2", ftruncate(ffd, 2));
    R("ftruncate 8", ftruncate(ffd, 8));
    R("ftruncate -1", ftruncate(ffd, -1));
    close(ffd);
    show("tr");
    nlink("tr");
    int rofd = open(P("tr"), O_RDONLY);
    R("ftruncate read-only fd", ftruncate(rofd, 0));
    close(rofd);
    R("truncate path", truncate(P("tr"), 3));
    show("tr");
    R("truncate dir", truncate(P("a"), 0));

    // Link counts and unlink of an open file.
    R("link", link(P("a/f"), P("a/g")));
    nlink("a/f");
    R("link exists", link(P("a/f"), P("a/g")));
    R("link dir", link(P("a"), P("a2")));
    R("link missing", link(P("a/none"), P("a/h")));
    int ofd = open(P("a/g"), O_RDONLY);
    R("unlink g", unlink(P("a/g")));
    nlink("a/f");
    R("unlink f", unlink(P("a/f")));
    fstat(ofd, &st);
    printf("open unlinked: nlink %lu\n", (unsigned long)st.st_nlink);
    char rb[16] = {0};
    R("read unlinked", read(ofd, rb, 15));
    printf("  data: %s\n", rb);
    close(ofd);
    put("a/f", "again");

    // Directories: errors.
    R("mkdir a/sub", mkdir(P("a/sub"), 0755));
    put("a/sub/x", "x");
    R("rmdir nonempty", rmdir(P("a/sub")));
    R("unlink dir", unlink(P("a/sub")));
    R("rmdir file", rmdir(P("a/f")));
    R("rmdir missing", rmdir(P("a/none")));
    R("rmdir .", rmdir(P("a/sub/.")));
    R("mkdir under file", mkdir(P("a/f/d"), 0755));

    // Renames.
    put("r1", "one");
    put("r2", "two");
    R("renameat2 NOREPLACE", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("r2"), 1));
    R("renameat2 EXCHANGE", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("r2"), 2));
    show("r1");
    show("r2");
    R("renameat2 EXCHANGE missing", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("r3"), 2));
    R("renameat2 both flags", syscall(SYS_renameat2, AT_FDCWD, P("r1"), AT_FDCWD, P("r2"), 3));
    R("rename over", rename(P("r1"), P("r2")));
    show("r2");
    R("rename missing", rename(P("r1"), P("r9")));
    R("rename dir into itself", rename(P("a"), P("a/sub/a")));
    R("rename file over dir", rename(P("r2"), P("a")));
    R("mkdir e", mkdir(P("e"), 0755));
    R("rename dir over nonempty", rename(P("e"), P("a")));
    R("rename dir over file", rename(P("e"), P("r2")));
    R("mkdir e2", mkdir(P("e2"), 0755));
    R("rename dir over empty dir", rename(P("e"), P("e2")));
    R("rename same file", rename(P("r2"), P("r2")));
    R("rename dir", rename(P("a/sub"), P("moved")));
    list("moved");
    list("a");

    // getdents after create and unlink.
    R("mkdir g", mkdir(P("g"), 0755));
    list("g");
    put("g/one", "1");
    put("g/two", "2");
    list("g");
    R("unlink one", unlink(P("g/one")));
    R("mkdir g/three", mkdir(P("g/three"), 0755));
    list("g");
    nlink("g");

    // Modes and times.
    R("chmod", chmod(P("g/two"), 0600));
    stat(P("g/two"), &st);
    printf("mode %o\n", st.st_mode & 07777);
    struct timespec ts[2] = {{1000000000, 5}, {1100000000, 7}};
    R("utimensat", utimensat(AT_FDCWD, P("g/two"), ts, 0));
    stat(P("g/two"), &st);
    printf("times %ld.%ld %ld.%ld\n", (long)st.st_atim.tv_sec, st.st_atim.tv_nsec, (long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    R("utimensat bad nsec", utimensat(AT_FDCWD, P("g/two"), (struct timespec[2]){{0, 2000000000}, {0, 0}}, 0));
    R("access R_OK", access(P("g/two"), R_OK));
    R("access missing", access(P("g/nope"), F_OK));
    R("faccessat2 bad flag", syscall(439, AT_FDCWD, P("g/two"), R_OK, 0x4000));

    // Extended attributes (user.*).
    R("setxattr", setxattr(P("g/two"), "user.k", "value", 5, 0));
    R("setxattr CREATE existing", setxattr(P("g/two"), "user.k", "v", 1, XATTR_CREATE));
    R("setxattr REPLACE missing", setxattr(P("g/two"), "user.none", "v", 1, XATTR_REPLACE));
    char xv[32] = {0};
    R("getxattr size", getxattr(P("g/two"), "user.k", NULL, 0));
    R("getxattr", getxattr(P("g/two"), "user.k", xv, sizeof xv));
    printf("  value: %s\n", xv);
    R("getxattr small buffer", getxattr(P("g/two"), "user.k", xv, 2));
    R("getxattr missing", getxattr(P("g/two"), "user.none", xv, sizeof xv));
    char xl[64] = {0};
    ssize_t xn = listxattr(P("g/two"), xl, sizeof xl);
    printf("listxattr: %ld %s\n", (long)xn, xl);
    R("removexattr", removexattr(P("g/two"), "user.k"));
    R("removexattr again", removexattr(P("g/two"), "user.k"));
    int xfd = open(P("g/two"), O_RDONLY);
    R("fsetxattr", fsetxattr(xfd, "user.f", "1", 1, 0));
    R("fgetxattr", fgetxattr(xfd, "user.f", xv, sizeof xv));
    close(xfd);

    // Name lengths.
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = 0;
    R("component too long", open(P(longname), O_RDONLY));
    char *longpath = malloc(5000);
    memset(longpath, 'a', 4999);
    longpath[4999] = 0;
    for (int i = 100; i < 4999; i += 100) longpath[i] = '/';
    R("path too long", stat(longpath, &st));

    // FIFO between two processes.
    R("mkfifo", mkfifo(P("fifo"), 0600));
    R("open fifo nonblock writer", open(P("fifo"), O_WRONLY | O_NONBLOCK));
    pid_t pid = fork();
    if (pid == 0) {
        int w = open(P("fifo"), O_WRONLY);
        if (write(w, "through fifo", 12) != 12) _exit(3);
        close(w);
        _exit(0);
    }
    printf("forked: %d\n", pid > 0);
    int r = open(P("fifo"), O_RDONLY);
    printf("reader open: %s\n", r >= 0 ? "OK" : en(errno));
    char fb[32] = {0};
    ssize_t total = 0, n;
    while ((n = read(r, fb + total, sizeof fb - 1 - total)) > 0) total += n;
    close(r);
    int status;
    waitpid(pid, &status, 0);
    printf("fifo read: %s (child %d)\n", fb, WEXITSTATUS(status));
    lstat(P("fifo"), &st);
    printf("fifo is fifo: %d\n", S_ISFIFO(st.st_mode));

    // openat2 resolve flags.
    struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, 0x08 /* BENEATH */};
    int base = open(D, O_RDONLY | O_DIRECTORY);
    R("openat2 beneath ok", syscall(437, base, "a/f", &how, sizeof how));
    R("openat2 beneath ..", syscall(437, base, "../x", &how, sizeof how));
    R("openat2 beneath abs", syscall(437, base, "/etc/passwd", &how, sizeof how));
    how.resolve = 0x04; // NO_SYMLINKS
    R("openat2 no symlinks", syscall(437, base, "tof", &how, sizeof how));
    how.resolve = 0x1000;
    R("openat2 bad resolve", syscall(437, base, "a/f", &how, sizeof how));
    printf("done\n");
    return 0;
}
