// The syscall families vfs_paths.c leaves out, run natively and in the sandbox on a fresh directory
// (argv[1]); every line is deterministic so outputs compare exactly. Covers EACCES/EPERM as a
// non-root user (a child that setuid()s to 65534), EROFS on read-only mounts (a read-only tmpfs and
// a read-only bind remount; natively inside a private mount namespace), chroot, pivot_root errors,
// O_TMPFILE, FIFOs opened O_RDWR, splice/tee/readahead/sendfile/copy_file_range, fadvise, the sync
// family, statfs, umask, getcwd/fchdir.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/inotify.h>
#include "check.h"

static char D[512];
static char *P(const char *rel) { static char b[8][1024]; static int i; i = (i + 1) % 8; snprintf(b[i], 1024, "%s/%s", D, rel); return b[i]; }

static void put(const char *path, const char *text, int mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
    if (fd < 0) { printf("put %s: %s\n", path, en(errno)); return; }
    if (write(fd, text, strlen(text)) < 0) printf("write failed\n");
    close(fd);
}
static void show(const char *label, const char *path) {
    char buf[128] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) { printf("cat %s: %s\n", label, en(errno)); return; }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("cat %s: [%.*s]\n", label, (int)(n < 0 ? 0 : n), buf);
}

static void as_nobody(void) {
    // Fixtures made by root, then a child as uid/gid 65534.
    R("mkdir priv", mkdir(P("priv"), 0700));
    put(P("priv/f"), "secret", 0600);
    put(P("ro.txt"), "root's", 0644);
    R("mkdir pub", mkdir(P("pub"), 0755));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(65534) || setuid(65534)) { printf("setuid failed\n"); _exit(1); }
        struct stat st;
        R("user open priv/f", open(P("priv/f"), O_RDONLY));
        R("user stat priv/f", stat(P("priv/f"), &st));
        R("user opendir priv", open(P("priv"), O_RDONLY | O_DIRECTORY));
        R("user chdir priv", chdir(P("priv")));
        R("user open ro.txt for writing", open(P("ro.txt"), O_WRONLY));
        R("user open ro.txt O_TRUNC", open(P("ro.txt"), O_RDONLY | O_TRUNC));
        R("user create in pub", open(P("pub/new"), O_WRONLY | O_CREAT, 0644));
        R("user mkdir in pub", mkdir(P("pub/d"), 0755));
        R("user mkfifo in pub", mkfifo(P("pub/p"), 0644));
        R("user symlink in pub", symlink("x", P("pub/l")));
        R("user link in pub", link(P("ro.txt"), P("pub/h")));
        R("user unlink ro.txt", unlink(P("ro.txt")));
        R("user rename ro.txt", rename(P("ro.txt"), P("pub/r")));
        R("user rmdir pub", rmdir(P("pub")));
        R("user chmod ro.txt", chmod(P("ro.txt"), 0777));
        R("user chown ro.txt", chown(P("ro.txt"), 65534, 65534));
        struct timespec ts[2] = {{1, 0}, {1, 0}};
        R("user utimensat times", utimensat(AT_FDCWD, P("ro.txt"), ts, 0));
        R("user utimensat now", utimensat(AT_FDCWD, P("ro.txt"), NULL, 0));
        R("user access W_OK", access(P("ro.txt"), W_OK));
        R("user access R_OK", access(P("ro.txt"), R_OK));
        R("user truncate", truncate(P("ro.txt"), 0));
        R("user chroot", chroot(P("pub")));
        R("user pivot_root", syscall(SYS_pivot_root, P("pub"), P("pub")));
        R("user mount", mount("none", P("pub"), "tmpfs", 0, NULL));
        int in = inotify_init1(0);
        R("user inotify_add_watch priv/f", inotify_add_watch(in, P("priv/f"), IN_MODIFY));
        R("user inotify_add_watch ro.txt", inotify_add_watch(in, P("ro.txt"), IN_MODIFY));
        close(in);
        R("user O_TMPFILE in pub", open(P("pub"), O_TMPFILE | O_RDWR, 0600));
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("user child exit %d\n", WEXITSTATUS(status));
}

static void read_only_mounts(void) {
    // Natively: a private mount namespace so nothing leaks to the host. In the sandbox unshare is
    // refused (no namespaces) and mounts stay inside the sandbox anyway.
    if (unshare(CLONE_NEWNS) == 0) mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
    R("mkdir rot", mkdir(P("rot"), 0755));
    R("mount ro tmpfs", mount("none", P("rot"), "tmpfs", MS_RDONLY, NULL));
    R("create on ro tmpfs", open(P("rot/x"), O_WRONLY | O_CREAT, 0644));
    R("mkdir on ro tmpfs", mkdir(P("rot/d"), 0755));
    R("mkdir src", mkdir(P("src"), 0755));
    put(P("src/f"), "bound", 0644);
    R("mkdir rob", mkdir(P("rob"), 0755));
    R("bind src rob", mount(P("src"), P("rob"), NULL, MS_BIND, NULL));
    R("remount rob ro", mount(NULL, P("rob"), NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
    show("rob/f", P("rob/f"));
    R("open rob/f O_WRONLY", open(P("rob/f"), O_WRONLY));
    R("open rob/f O_RDONLY|O_TRUNC", open(P("rob/f"), O_RDONLY | O_TRUNC));
    R("create rob/new", open(P("rob/new"), O_WRONLY | O_CREAT, 0644));
    R("unlink rob/f", unlink(P("rob/f")));
    R("rename in rob", rename(P("rob/f"), P("rob/g")));
    R("chmod rob/f", chmod(P("rob/f"), 0600));
    R("chown rob/f", chown(P("rob/f"), 1, 1));
    R("utimensat rob/f", utimensat(AT_FDCWD, P("rob/f"), NULL, 0));
    R("truncate rob/f", truncate(P("rob/f"), 0));
    R("symlink in rob", symlink("f", P("rob/l")));
    R("mkfifo in rob", mkfifo(P("rob/p"), 0644));
    R("mkdir in rob", mkdir(P("rob/d"), 0755));
    R("access rob/f W_OK", access(P("rob/f"), W_OK));
    R("link into rob (other mount)", link(P("src/f"), P("rob/h")));
    R("O_TMPFILE in rob", open(P("rob"), O_TMPFILE | O_RDWR, 0600));
    struct statfs sf;
    R("statfs rob", statfs(P("rob"), &sf));
    printf("  ST_RDONLY: %d\n", (int)((sf.f_flags & 1) != 0));
    R("writes through src still work", open(P("src/f"), O_WRONLY | O_APPEND));
    R("umount rob", umount(P("rob")));
    R("umount rot", umount(P("rot")));
    R("umount rot again", umount(P("rot")));
}

static void chroot_jail(void) {
    R("mkdir jail", mkdir(P("jail"), 0755));
    R("mkdir jail/sub", mkdir(P("jail/sub"), 0755));
    put(P("jail/file"), "in jail", 0644);
    R("symlink jail/abs", symlink("/file", P("jail/abs")));
    R("symlink jail/up", symlink("../../../..", P("jail/up")));
    R("chroot missing", chroot(P("nojail")));
    R("chroot file", chroot(P("jail/file")));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        R("chdir jail/sub", chdir(P("jail/sub")));
        R("chroot jail", chroot(P("jail")));
        char buf[256] = {0};
        R("getcwd (cwd below new root)", syscall(SYS_getcwd, buf, sizeof buf));
        printf("  cwd: %s\n", strncmp(buf, "(unreachable)", 13) == 0 ? "(unreachable)" : buf);
        show("/file", "/file");
        show("/abs", "/abs");
        show("/up/file", "/up/file");
        show("/../../file", "/../../file");
        show("../file", "../file");
        struct stat a, b;
        stat("/", &a);
        stat("/..", &b);
        printf("  / is /..: %d\n", a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        R("open D from inside", open(D, O_RDONLY));
        R("chdir /", chdir("/"));
        memset(buf, 0, sizeof buf);
        R("getcwd", syscall(SYS_getcwd, buf, sizeof buf));
        printf("  cwd: %s\n", buf);
        R("chdir sub", chdir("sub"));
        memset(buf, 0, sizeof buf);
        syscall(SYS_getcwd, buf, sizeof buf);
        printf("  cwd: %s\n", buf);
        R("create /new", open("/new", O_WRONLY | O_CREAT, 0644));
        R("chroot . again", chroot("."));
        show("/../file after second chroot", "/../file");
        fflush(stdout);
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("chroot child exit %d\n", WEXITSTATUS(status));
    R("made inside jail", access(P("jail/new"), F_OK));
    char buf[512] = {0};
    getcwd(buf, sizeof buf);
    printf("parent cwd unchanged: %d\n", strcmp(buf, D) == 0);
    // pivot_root: refused unless new_root is a mount point other than the current root.
    R("pivot_root not a mount", syscall(SYS_pivot_root, P("jail"), P("jail/sub")));
    R("pivot_root file", syscall(SYS_pivot_root, P("jail/file"), P("jail/sub")));
    R("pivot_root missing", syscall(SYS_pivot_root, P("nojail"), P("jail/sub")));
}

static void tmpfile_and_fifo(void) {
    int fd = open(D, O_TMPFILE | O_RDWR, 0640);
    printf("O_TMPFILE: %s\n", fd >= 0 ? "OK" : en(errno));
    if (fd >= 0) {
        R("write tmpfile", write(fd, "unnamed", 7));
        struct stat st;
        fstat(fd, &st);
        printf("  nlink %lu mode %o size %ld\n", (unsigned long)st.st_nlink, st.st_mode & 07777, (long)st.st_size);
        R("linkat AT_EMPTY_PATH", linkat(fd, "", AT_FDCWD, P("named"), AT_EMPTY_PATH));
        fstat(fd, &st);
        printf("  nlink after link %lu\n", (unsigned long)st.st_nlink);
        show("named", P("named"));
        close(fd);
    }
    R("O_TMPFILE read-only", open(D, O_TMPFILE | O_RDONLY, 0600));
    R("O_TMPFILE on file", open(P("named"), O_TMPFILE | O_RDWR, 0600));
    R("O_TMPFILE missing dir", open(P("nodir"), O_TMPFILE | O_RDWR, 0600));
    int ex = open(D, O_TMPFILE | O_RDWR | O_EXCL, 0600);
    printf("O_TMPFILE|O_EXCL: %s\n", ex >= 0 ? "OK" : en(errno));
    if (ex >= 0) {
        R("linkat O_EXCL tmpfile", linkat(ex, "", AT_FDCWD, P("named2"), AT_EMPTY_PATH));
        close(ex);
    }

    R("mkfifo rw", mkfifo(P("rwfifo"), 0644));
    int f = open(P("rwfifo"), O_RDWR);
    printf("FIFO O_RDWR: %s\n", f >= 0 ? "OK" : en(errno));
    if (f >= 0) {
        struct pollfd p = {f, POLLIN | POLLOUT, 0};
        poll(&p, 1, 0);
        printf("  poll empty: in %d out %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT));
        V("  write", write(f, "abc", 3));
        p.revents = 0;
        poll(&p, 1, 0);
        printf("  poll data: in %d out %d\n", !!(p.revents & POLLIN), !!(p.revents & POLLOUT));
        int w = open(P("rwfifo"), O_WRONLY | O_NONBLOCK);
        printf("  nonblocking writer (a reader exists): %s\n", w >= 0 ? "OK" : en(errno));
        if (w >= 0) { V("  write 2", write(w, "de", 2)); close(w); }
        char b[16] = {0};
        V("  read", read(f, b, sizeof b - 1));
        printf("  data: %s\n", b);
        fcntl(f, F_SETFL, O_NONBLOCK);
        V("  read empty nonblocking", read(f, b, sizeof b));
        close(f);
    }
}

static void splice_family(void) {
    put(P("sp"), "0123456789", 0644);
    int file = open(P("sp"), O_RDWR);
    int p[2], q[2];
    if (pipe(p) || pipe(q)) { printf("pipe failed\n"); return; }
    loff_t off = 2;
    V("splice file->pipe", splice(file, &off, p[1], NULL, 5, 0));
    printf("  off %ld\n", (long)off);
    char b[32] = {0};
    V("  read pipe", read(p[0], b, sizeof b - 1));
    printf("  data: %s\n", b);
    V("write pipe", write(p[1], "xyz", 3));
    loff_t o2 = 0;
    V("splice pipe->file", splice(p[0], NULL, file, &o2, 3, 0));
    show("sp", P("sp"));
    V("splice file->file", splice(file, NULL, file, NULL, 3, 0));
    loff_t bad = 0;
    V("splice pipe with offset", splice(p[0], &bad, file, NULL, 3, 0));
    V("write a", write(p[1], "tee!", 4));
    V("tee", tee(p[0], q[1], 10, 0));
    memset(b, 0, sizeof b);
    V("  read copy", read(q[0], b, sizeof b - 1));
    printf("  copy: %s\n", b);
    memset(b, 0, sizeof b);
    V("  read original", read(p[0], b, sizeof b - 1));
    printf("  original: %s\n", b);
    V("tee file", tee(file, q[1], 10, 0));
    V("tee empty nonblock", tee(p[0], q[1], 10, SPLICE_F_NONBLOCK));
    V("readahead", readahead(file, 0, 4096));
    V("readahead pipe", readahead(p[0], 0, 4096));
    V("readahead bad fd", readahead(99, 0, 4096));
    V("fadvise", posix_fadvise(file, 0, 0, POSIX_FADV_SEQUENTIAL) == 0 ? 0 : -1);
    int out = open(P("sf"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    off_t so = 4;
    V("sendfile", sendfile(out, file, &so, 3));
    printf("  sendfile off %ld\n", (long)so);
    loff_t ci = 0, co = 3;
    V("copy_file_range", copy_file_range(file, &ci, out, &co, 4, 0));
    close(out);
    show("sf", P("sf"));
    V("fsync", fsync(file));
    V("fdatasync", fdatasync(file));
    V("syncfs", syncfs(file));
    V("sync_file_range", sync_file_range(file, 0, 0, 0));
    V("fsync bad fd", fsync(99));
    sync();
    close(file);
    close(p[0]); close(p[1]); close(q[0]); close(q[1]);
}

static void misc(void) {
    mode_t old = umask(027);
    printf("umask old %o\n", old);
    put(P("um"), "u", 0666);
    struct stat st;
    stat(P("um"), &st);
    printf("  created mode %o\n", st.st_mode & 0777);
    R("mkdir um.d", mkdir(P("um.d"), 0777));
    stat(P("um.d"), &st);
    printf("  mkdir mode %o\n", st.st_mode & 0777);
    umask(old);
    int dfd = open(P("jail"), O_RDONLY | O_DIRECTORY);
    R("fchdir", fchdir(dfd));
    char buf[512] = {0};
    getcwd(buf, sizeof buf);
    printf("  cwd is jail: %d\n", strcmp(buf, P("jail")) == 0);
    R("rename cwd's parent dir", rename(P("jail"), P("jail2")));
    memset(buf, 0, sizeof buf);
    getcwd(buf, sizeof buf);
    printf("  cwd follows rename: %d\n", strcmp(buf, P("jail2")) == 0);
    show("relative after rename", "file");
    R("fchdir file", fchdir(open(P("jail2/file"), O_RDONLY)));
    R("getcwd small", syscall(SYS_getcwd, buf, 2));
    R("chdir back", chdir(D));
    close(dfd);
    // openat2 RESOLVE_IN_ROOT: D is the root of the lookup ("..", absolute paths and links clamp).
    struct { unsigned long long flags, mode, resolve; } how = {O_RDONLY, 0, 0x10};
    int base = open(D, O_RDONLY | O_DIRECTORY);
    R("openat2 IN_ROOT absolute", syscall(437, base, "/jail2/file", &how, sizeof how));
    R("openat2 IN_ROOT dotdot", syscall(437, base, "../../../../jail2/file", &how, sizeof how));
    R("openat2 IN_ROOT absolute link", syscall(437, base, "jail2/abs", &how, sizeof how));
    R("openat2 IN_ROOT climbing link", syscall(437, base, "jail2/up/jail2/file", &how, sizeof how));
    R("openat2 IN_ROOT escape to /etc", syscall(437, base, "/etc/hostname", &how, sizeof how));
    close(base);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    snprintf(D, sizeof D, "%s", argv[1]);
    R("mkdir D", mkdir(D, 0755));
    R("chdir D", chdir(D));
    as_nobody();
    chroot_jail();
    tmpfile_and_fifo();
    splice_family();
    misc();
    read_only_mounts();
    printf("done\n");
    return 0;
}
