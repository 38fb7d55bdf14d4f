// Advisory file locks: flock (shared, exclusive, non-blocking, conversion, inherited descriptions,
// blocking until released), fcntl record locks (F_SETLK conflicts, F_GETLK reports, splitting on
// unlock, F_SETLKW blocking until the holder closes, F_SETLKW interrupted by a signal, release on
// close of any fd and on exit) and OFD locks (owned by the open file description).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>

static char path[64];

static void msleep(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

static int setlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    return fcntl(fd, cmd, &fl);
}

static struct flock getlk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    if (fcntl(fd, cmd, &fl) != 0) { printf("getlk failed: %s\n", strerror(errno)); fl.l_type = -1; }
    return fl;
}

// "r" or "r errno-text", with errno captured right after the call (argument order is unspecified).
static char resbuf[8][96];
static int resi;
static const char *res(int r) {
    int e = errno;
    char *b = resbuf[resi++ % 8];
    if (r == -1) snprintf(b, 96, "-1 %s", strerror(e)); else snprintf(b, 96, "%d", r);
    return b;
}

static const char *tname(short t) { return t == F_RDLCK ? "RD" : t == F_WRLCK ? "WR" : t == F_UNLCK ? "UN" : "?"; }

// Runs `fn` in a child and returns its exit code.
static int in_child(int (*fn)(void)) {
    pid_t c = fork();
    if (c == 0) _exit(fn());
    int st;
    waitpid(c, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int child_flock_nb_ex(void) {
    int fd = open(path, O_RDWR);
    int r = flock(fd, LOCK_EX | LOCK_NB);
    return r == 0 ? 0 : (errno == EWOULDBLOCK ? 1 : 2);
}
static int child_flock_nb_sh(void) {
    int fd = open(path, O_RDWR);
    int r = flock(fd, LOCK_SH | LOCK_NB);
    return r == 0 ? 0 : (errno == EWOULDBLOCK ? 1 : 2);
}

static pid_t parent_pid;
static int child_getlk_report(void) {
    int fd = open(path, O_RDWR);
    struct flock fl = getlk(fd, F_GETLK, F_WRLCK, 5, 10);
    printf("  F_GETLK from child: %s start %ld len %ld holder is parent %d\n", tname(fl.l_type),
           (long)fl.l_start, (long)fl.l_len, fl.l_pid == parent_pid);
    fl = getlk(fd, F_GETLK, F_RDLCK, 200, 10);
    printf("  F_GETLK outside the lock: %s\n", tname(fl.l_type));
    printf("  F_SETLK read over write lock: %s\n", res(setlk(fd, F_SETLK, F_RDLCK, 0, 1)));
    return 0;
}

static int child_split_report(void) {
    int fd = open(path, O_RDWR);
    struct flock a = getlk(fd, F_GETLK, F_WRLCK, 0, 100);
    struct flock b = getlk(fd, F_GETLK, F_WRLCK, 45, 100);
    struct flock c = getlk(fd, F_GETLK, F_WRLCK, 40, 20);
    printf("  after unlocking [40,60): first %s %ld+%ld, later %s %ld+%ld, hole %s\n", tname(a.l_type), (long)a.l_start,
           (long)a.l_len, tname(b.l_type), (long)b.l_start, (long)b.l_len, tname(c.l_type));
    return 0;
}

static int child_is_unlocked(void) {
    int fd = open(path, O_RDWR);
    struct flock fl = getlk(fd, F_GETLK, F_WRLCK, 0, 0);
    return fl.l_type == F_UNLCK ? 0 : 1;
}

static void on_alarm(int s) { (void)s; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    parent_pid = getpid();
    snprintf(path, sizeof path, "/tmp/bulwark-locks-%d", (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror("open"); return 1; }
    write(fd, "0123456789", 10);

    // flock
    printf("flock EX: %d\n", flock(fd, LOCK_EX));
    printf("other description EX|NB: %d (1 = EWOULDBLOCK)\n", in_child(child_flock_nb_ex));
    printf("other description SH|NB: %d\n", in_child(child_flock_nb_sh));
    pid_t c = fork();
    if (c == 0) _exit(flock(fd, LOCK_EX | LOCK_NB) == 0 ? 0 : 1);   // same (inherited) description
    int st;
    waitpid(c, &st, 0);
    printf("inherited description EX|NB: %d\n", WEXITSTATUS(st));
    printf("convert to SH: %d\n", flock(fd, LOCK_SH));
    printf("other description SH|NB now: %d\n", in_child(child_flock_nb_sh));
    printf("other description EX|NB now: %d\n", in_child(child_flock_nb_ex));
    // Blocking flock waits until we unlock (the child is still waiting when we check).
    int ready[2];
    pipe(ready);
    char rb;
    c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        write(ready[1], "r", 1);
        int r = flock(f2, LOCK_EX);
        _exit(r == 0 ? 0 : 1);
    }
    read(ready[0], &rb, 1);
    msleep(100);
    printf("flock waiter still blocked: %d\n", waitpid(c, &st, WNOHANG) == 0);
    printf("unlock: %d\n", flock(fd, LOCK_UN));
    waitpid(c, &st, 0);
    printf("blocked EX acquired after unlock: %d\n", WEXITSTATUS(st));
    printf("bad op: %s\n", res(flock(fd, 3)));
    printf("bad fd: %s\n", res(flock(-1, LOCK_SH)));

    // fcntl record locks
    printf("F_SETLK WR [0,10): %d\n", setlk(fd, F_SETLK, F_WRLCK, 0, 10));
    in_child(child_getlk_report);
    printf("own F_GETLK sees no conflict: %s\n", tname(getlk(fd, F_GETLK, F_WRLCK, 0, 10).l_type));
    printf("unlock: %d\n", setlk(fd, F_SETLK, F_UNLCK, 0, 10));
    printf("F_SETLK WR [0,100): %d\n", setlk(fd, F_SETLK, F_WRLCK, 0, 100));
    printf("F_SETLK UN [40,60): %d\n", setlk(fd, F_SETLK, F_UNLCK, 40, 20));
    in_child(child_split_report);
    setlk(fd, F_SETLK, F_UNLCK, 0, 0);

    // F_SETLKW blocks until the holder closes (any) fd of the file.
    int other = open(path, O_RDONLY);
    setlk(fd, F_SETLK, F_WRLCK, 0, 0);
    c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        write(ready[1], "r", 1);
        int r = setlk(f2, F_SETLKW, F_WRLCK, 0, 0);
        _exit(r == 0 ? 0 : 1);
    }
    read(ready[0], &rb, 1);
    msleep(100);
    printf("F_SETLKW waiter still blocked: %d\n", waitpid(c, &st, WNOHANG) == 0);
    close(other);   // closing another fd of the same file releases our locks (POSIX)
    waitpid(c, &st, 0);
    printf("F_SETLKW acquired after holder closed another fd: %d\n", WEXITSTATUS(st));

    // F_SETLKW interrupted by a signal (no SA_RESTART): EINTR.
    setlk(fd, F_SETLK, F_WRLCK, 0, 0);
    c = fork();
    if (c == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 0}, {0, 50000}};
        setitimer(ITIMER_REAL, &it, NULL);
        int f2 = open(path, O_RDWR);
        int r = setlk(f2, F_SETLKW, F_WRLCK, 0, 0);
        _exit(r == -1 && errno == EINTR ? 0 : 1);
    }
    waitpid(c, &st, 0);
    printf("F_SETLKW interrupted: %d\n", WEXITSTATUS(st));
    setlk(fd, F_SETLK, F_UNLCK, 0, 0);

    // Deadlock: the child holds [1,2) and waits for our [0,1); us waiting for [1,2) is EDEADLK.
    int sync[2];
    pipe(sync);
    setlk(fd, F_SETLK, F_WRLCK, 0, 1);
    c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        setlk(f2, F_SETLK, F_WRLCK, 1, 1);
        write(sync[1], "l", 1);
        int r = setlk(f2, F_SETLKW, F_WRLCK, 0, 1);
        _exit(r == 0 ? 0 : 1);
    }
    char ch;
    read(sync[0], &ch, 1);
    msleep(100);
    printf("F_SETLKW closing a cycle: %s\n", res(setlk(fd, F_SETLKW, F_WRLCK, 1, 1)));
    setlk(fd, F_SETLK, F_UNLCK, 0, 0);
    waitpid(c, &st, 0);
    printf("the other waiter got its lock: %d\n", WEXITSTATUS(st));

    // Implicit closes release record locks too: dup2 over an fd of the file...
    int extra = open(path, O_RDONLY);
    setlk(fd, F_SETLK, F_WRLCK, 0, 0);
    int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, extra);
    printf("unlocked after dup2 over another fd: %d\n", in_child(child_is_unlocked));
    close(extra);
    close(devnull);
    // ... and the close-on-exec of one at execve (the process lives on as sleep).
    c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        setlk(f2, F_SETLK, F_WRLCK, 0, 0);
        open(path, O_RDONLY | O_CLOEXEC);
        write(sync[1], "l", 1);
        execl("/bin/sleep", "sleep", "0.3", (char *)NULL);
        _exit(127);
    }
    read(sync[0], &ch, 1);
    msleep(150);
    printf("unlocked after the holder's execve closed a close-on-exec fd: %d\n", in_child(child_is_unlocked));
    waitpid(c, &st, 0);
    close(sync[0]);
    close(sync[1]);

    // Locks of an exited process are released.
    c = fork();
    if (c == 0) {
        int f2 = open(path, O_RDWR);
        setlk(f2, F_SETLK, F_WRLCK, 0, 0);
        _exit(0);
    }
    waitpid(c, &st, 0);
    printf("unlocked after holder exit: %d\n", in_child(child_is_unlocked));

    // Read lock on a write-only fd, write lock on a read-only fd: EBADF.
    int ro = open(path, O_RDONLY);
    printf("WR lock on O_RDONLY: %s\n", res(setlk(ro, F_SETLK, F_WRLCK, 0, 1)));
    close(ro);
    printf("bad type: %s\n", res(setlk(fd, F_SETLK, 7, 0, 1)));

    // OFD locks: owned by the description, so two opens in one process conflict.
    int a = open(path, O_RDWR), b = open(path, O_RDWR);
    printf("OFD WR on a: %d\n", setlk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
    printf("OFD WR on b: %s\n", res(setlk(b, F_OFD_SETLK, F_WRLCK, 5, 10)));
    struct flock fl = getlk(b, F_OFD_GETLK, F_RDLCK, 0, 0);
    printf("OFD GETLK from b: %s start %ld len %ld pid %d\n", tname(fl.l_type), (long)fl.l_start, (long)fl.l_len, fl.l_pid);
    other = open(path, O_RDWR);
    int r1 = setlk(fd, F_SETLK, F_WRLCK, 50, 10);
    int r2 = setlk(other, F_SETLK, F_WRLCK, 55, 10);
    printf("classic locks on two fds of one process do not conflict: %d %d\n", r1, r2);
    close(a);
    printf("OFD WR on b after a closed: %d\n", setlk(b, F_OFD_SETLK, F_WRLCK, 5, 10));
    struct flock bad = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1, .l_pid = 1};
    printf("OFD with l_pid set: %s\n", res(fcntl(b, F_OFD_SETLK, &bad)));
    close(b);
    close(other);
    close(fd);
    unlink(path);
    return 0;
}
