// inotify, run natively and in the sandbox on a fresh directory (argv[1]): which events each change
// made by this program raises, on a directory watch (instance A, names of children) and on a file
// watch (instance B); IN_ONESHOT, IN_MASK_CREATE/ADD, rm_watch and IN_IGNORED, errors, FIONREAD,
// and readiness through poll, epoll and a blocking read woken by another process.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static char D[512];
static char *P(const char *rel) { static char b[8][1024]; static int i; i = (i + 1) % 8; snprintf(b[i], 1024, "%s/%s", D, rel); return b[i]; }

static const char *en(int e) {
    switch (e) {
    case 0: return "OK"; case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR";
    case EINVAL: return "EINVAL"; case EBADF: return "EBADF"; case EAGAIN: return "EAGAIN"; case EACCES: return "EACCES";
    default: { static char b[32]; snprintf(b, sizeof b, "errno%d", e); return b; }
    }
}
#define R(label, expr) do { errno = 0; long _r = (long)(expr); printf("%s: %s\n", label, _r < 0 ? en(errno) : "OK"); } while (0)

static void masks(unsigned m) {
    static const struct { unsigned bit; const char *name; } names[] = {
        {IN_ACCESS, "ACCESS"}, {IN_MODIFY, "MODIFY"}, {IN_ATTRIB, "ATTRIB"}, {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"}, {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
        {IN_CREATE, "CREATE"}, {IN_DELETE, "DELETE"}, {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_Q_OVERFLOW, "Q_OVERFLOW"}, {IN_IGNORED, "IGNORED"}, {IN_ISDIR, "ISDIR"}, {IN_UNMOUNT, "UNMOUNT"}};
    int first = 1;
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (m & names[i].bit) { printf("%s%s", first ? "" : "|", names[i].name); first = 0; }
    if (first) printf("0");
}

static unsigned lastCookie;

/// Prints every queued event of `fd` (nonblocking), labelled.
static void drain(const char *label, int fd) {
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            printf("  %s wd%d ", label, e->wd);
            masks(e->mask);
            if (e->len) printf(" '%s'", e->name);
            if (e->cookie) { printf(" cookie%s", e->cookie == lastCookie ? "=prev" : ""); lastCookie = e->cookie; }
            printf(" len%u\n", e->len);
            p += sizeof *e + e->len;
        }
    }
}

static int A, B;
static void step(const char *what) { printf("%s\n", what); drain("A", A); drain("B", B); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc < 2) return 2;
    snprintf(D, sizeof D, "%s", argv[1]);
    R("mkdir D", mkdir(D, 0755));
    R("mkdir w", mkdir(P("w"), 0755));
    A = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    B = inotify_init1(IN_NONBLOCK);
    printf("init: %d %d\n", A >= 0, B >= 0);
    int wa = inotify_add_watch(A, P("w"), IN_ALL_EVENTS);
    printf("watch A: %d\n", wa);

    int fd = open(P("w/f"), O_WRONLY | O_CREAT, 0644);
    step("create f");
    int wb = inotify_add_watch(B, P("w/f"), IN_ALL_EVENTS);
    printf("watch B: %d\n", wb);
    if (write(fd, "hello", 5) != 5) printf("write failed\n");
    step("write f");
    close(fd);
    step("close f");
    fd = open(P("w/f"), O_RDONLY);
    char b[16];
    if (read(fd, b, sizeof b) < 0) printf("read failed\n");
    close(fd);
    step("open, read, close f");
    chmod(P("w/f"), 0600);
    step("chmod f");
    truncate(P("w/f"), 2);
    step("truncate f");
    utimensat(AT_FDCWD, P("w/f"), NULL, 0);
    step("utimensat f now");
    struct timespec ts[2] = {{5, 0}, {UTIME_OMIT, UTIME_OMIT}};
    utimensat(AT_FDCWD, P("w/f"), ts, 0);
    step("utimensat f atime only");
    fd = open(P("w/f"), O_WRONLY | O_TRUNC);
    close(fd);
    step("open O_TRUNC, close");
    mkdir(P("w/sub"), 0755);
    step("mkdir sub");
    rename(P("w/f"), P("w/g"));
    step("rename f g");
    link(P("w/g"), P("w/h"));
    step("link g h");
    unlink(P("w/h"));
    step("unlink h");
    symlink("g", P("w/l"));
    step("symlink l");
    rename(P("w/g"), P("out"));
    step("rename g out of w");
    rename(P("out"), P("w/back"));
    step("rename out back into w");
    mkfifo(P("w/p"), 0644);
    step("mkfifo p");
    unlink(P("w/back"));
    step("unlink back (B's file)");
    unlink(P("w/l"));
    unlink(P("w/p"));
    step("unlink l, p");
    rmdir(P("w/sub"));
    step("rmdir sub");
    int dfd = open(P("w"), O_RDONLY | O_DIRECTORY);
    char dbuf[4096];
    syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf);
    close(dfd);
    step("list w");

    // Masks: only what was asked for; IN_MASK_ADD, IN_MASK_CREATE, IN_ONESHOT.
    fd = open(P("w/m"), O_RDWR | O_CREAT, 0644);
    close(fd);
    step("create m");
    int wm = inotify_add_watch(B, P("w/m"), IN_MODIFY);
    printf("watch m: %d\n", wm == wb + 1);
    fd = open(P("w/m"), O_RDWR);
    if (write(fd, "x", 1) != 1) printf("write failed\n");
    close(fd);
    step("open, write, close m (B wants MODIFY only)");
    printf("mask add same wd: %d\n", inotify_add_watch(B, P("w/m"), IN_CLOSE_WRITE | IN_MASK_ADD) == wm);
    fd = open(P("w/m"), O_RDWR);
    if (write(fd, "y", 1) != 1) printf("write failed\n");
    close(fd);
    step("open, write, close m (MODIFY|CLOSE_WRITE)");
    R("IN_MASK_CREATE existing", inotify_add_watch(B, P("w/m"), IN_MODIFY | IN_MASK_CREATE));
    R("IN_MASK_CREATE|IN_MASK_ADD", inotify_add_watch(B, P("w/m"), IN_MODIFY | IN_MASK_CREATE | IN_MASK_ADD));
    printf("oneshot replaces: %d\n", inotify_add_watch(B, P("w/m"), IN_MODIFY | IN_ONESHOT) == wm);
    fd = open(P("w/m"), O_RDWR);
    if (write(fd, "1", 1) != 1 || write(fd, "2", 1) != 1) printf("write failed\n");
    close(fd);
    step("two writes with IN_ONESHOT");
    R("rm_watch A", inotify_rm_watch(A, wa));
    step("after rm_watch A");
    R("rm_watch A again", inotify_rm_watch(A, wa));
    R("rm_watch bad fd", inotify_rm_watch(99, 1));
    R("add_watch missing", inotify_add_watch(A, P("w/none"), IN_ALL_EVENTS));
    R("add_watch mask 0", inotify_add_watch(A, P("w"), 0));
    R("add_watch IN_ONLYDIR on file", inotify_add_watch(A, P("w/m"), IN_MODIFY | IN_ONLYDIR));
    R("add_watch not inotify", inotify_add_watch(0, P("w"), IN_MODIFY));
    R("add_watch bad fd", inotify_add_watch(99, P("w"), IN_MODIFY));
    R("init1 bad flags", inotify_init1(1));
    symlink("m", P("w/lm"));
    int wl = inotify_add_watch(A, P("w/lm"), IN_ATTRIB | IN_DONT_FOLLOW);
    int wf = inotify_add_watch(A, P("w/lm"), IN_ATTRIB);
    printf("dont_follow watches the link: %d\n", wl != wf && wl > 0 && wf > 0);
    chmod(P("w/m"), 0640);
    step("chmod m (through the link's target)");

    // Readiness: poll, epoll, FIONREAD, a blocking read woken by a child's change.
    int C = inotify_init();
    inotify_add_watch(C, P("w"), IN_CREATE);
    struct pollfd p = {C, POLLIN, 0};
    printf("poll empty: %d\n", poll(&p, 1, 0));
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = 7}, out;
    epoll_ctl(ep, EPOLL_CTL_ADD, C, &ev);
    printf("epoll empty: %d\n", epoll_wait(ep, &out, 1, 0));
    close(open(P("w/n1"), O_WRONLY | O_CREAT, 0644));
    int pr = poll(&p, 1, 0);
    printf("poll ready: %d revents %d\n", pr, p.revents);
    int er = epoll_wait(ep, &out, 1, 0);
    printf("epoll ready: %d data %u\n", er, out.data.u32);
    int avail = 0;
    ioctl(C, FIONREAD, &avail);
    printf("FIONREAD: %d\n", avail);
    char small[8];
    R("read too small", read(C, small, sizeof small));
    fcntl(C, F_SETFL, O_NONBLOCK);
    drain("C", C);
    fcntl(C, F_SETFL, 0);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(200000);
        close(open(P("w/n2"), O_WRONLY | O_CREAT, 0644));
        _exit(0);
    }
    char eb[256] __attribute__((aligned(8)));
    ssize_t n = read(C, eb, sizeof eb);
    struct inotify_event *e = (struct inotify_event *)eb;
    printf("blocking read: %s ", n > 0 ? "OK" : en(errno));
    if (n > 0) { masks(e->mask); printf(" '%s'\n", e->name); } else printf("\n");
    int status;
    waitpid(pid, &status, 0);
    printf("epoll after drain: %d\n", epoll_wait(ep, &out, 1, 0));
    close(ep);
    close(C);
    close(A);
    close(B);
    printf("done\n");
    return 0;
}
