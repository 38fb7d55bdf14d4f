// fork + exec for the launcher (supervisor, Sentry, OCI hooks). Everything the child runs before execve
// is async-signal-safe: raw syscalls and no allocation, because the parent is a multi-threaded Swift
// process. Failure in the child is reported to the parent as an errno through a CLOEXEC pipe.
#define _GNU_SOURCE
#include "bulwark_spawn.h"
#include "bulwark_spawn_join.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void child_fail(int report_fd, int err) {
    // A short write here cannot be retried meaningfully; the parent then sees a generic failure.
    ssize_t ignored = write(report_fd, &err, sizeof(err));
    (void)ignored;
    _exit(127);
}

static void child_run(const struct bw_spawn_attr *attr, int report_fd, pid_t parent, int clone_flags, int release_fd,
                      const int *ns_fds, int ns_count) {
    for (int i = 0; i < ns_count; i++)
        if (setns(ns_fds[i], 0) < 0) child_fail(report_fd, errno);
    // In a new user namespace nothing may run before the parent wrote our uid/gid maps: until then we
    // are the overflow uid there, and an execve would drop every capability (no uid maps to 0).
    if (release_fd >= 0) {
        char go = 0;
        ssize_t n;
        do { n = read(release_fd, &go, 1); } while (n < 0 && errno == EINTR);
        if (n != 1) _exit(127);  // the parent could not write the maps (it reports why)
        close(release_fd);
    }
    // A new mount namespace starts as a copy of the parent's, shared propagation included: make it
    // private first, so nothing the child mounts (or pivots away from) reaches the host.
    if ((clone_flags & CLONE_NEWNS) && mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        child_fail(report_fd, errno);
    if (attr->reset_signals) {
        struct sigaction dfl;
        memset(&dfl, 0, sizeof(dfl));
        dfl.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig == SIGKILL || sig == SIGSTOP) continue;
            sigaction(sig, &dfl, NULL);  // fails harmlessly for the glibc-reserved signals
        }
        sigset_t empty;
        sigemptyset(&empty);
        sigprocmask(SIG_SETMASK, &empty, NULL);
    }
    if (attr->new_session && setsid() < 0) child_fail(report_fd, errno);
    if (attr->parent_death_signal) {
        if (prctl(PR_SET_PDEATHSIG, (unsigned long)attr->parent_death_signal, 0, 0, 0) < 0)
            child_fail(report_fd, errno);
        // The parent may have died before prctl took effect (getppid() reads 0 in a new pid namespace,
        // where that cannot be checked this way).
        if (!(clone_flags & CLONE_NEWPID) && getppid() != parent) _exit(127);
    }
    // Move the stdio sources above 2 first, so one source being another target's number is harmless.
    int sources[3] = {attr->stdin_fd, attr->stdout_fd, attr->stderr_fd};
    int moved[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        if (sources[i] < 0) continue;
        moved[i] = fcntl(sources[i], F_DUPFD_CLOEXEC, 3);
        if (moved[i] < 0) child_fail(report_fd, errno);
    }
    for (int i = 0; i < 3; i++) {
        if (moved[i] < 0) continue;
        if (dup2(moved[i], i) < 0) child_fail(report_fd, errno);  // dup2 clears CLOEXEC on i
    }
    if (attr->cloexec_from >= 3) {
        // close_range(CLOSE_RANGE_CLOEXEC) is Linux 5.11+; fall back to marking descriptors one by one.
        if (syscall(SYS_close_range, (unsigned)attr->cloexec_from, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */) < 0) {
            for (int fd = attr->cloexec_from; fd < 65536; fd++) {
                int flags = fcntl(fd, F_GETFD);
                if (flags >= 0) fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
            }
        }
    }
    for (int i = 0; i < attr->keep_count; i++) {
        int fd = attr->keep_fds[i];
        int flags = fcntl(fd, F_GETFD);
        if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) child_fail(report_fd, errno);
    }
    if (attr->cwd && chdir(attr->cwd) < 0) child_fail(report_fd, errno);
    execve(attr->path, attr->argv, attr->envp ? attr->envp : environ);
    child_fail(report_fd, errno);
}

// The identity map of every id (0..2^32-2, i.e. all but the invalid -1) for a child in a new user
// namespace: it stays uid/gid 0 as far as files are concerned, so files of any owner on the host are
// within reach of the capabilities it keeps *inside* its namespace, which give nothing over the host's
// own namespaces (mount, network, ...) or over other users' processes. We are privileged in the parent
// namespace (CAP_SETUID/CAP_SETGID), so neither setgroups nor a single-id map is required.
static int write_map(pid_t pid, const char *name) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    static const char map[] = "0 0 4294967295\n";
    ssize_t n = write(fd, map, sizeof(map) - 1);  // one write: the kernel accepts a map only once, whole
    int err = n == (ssize_t)(sizeof(map) - 1) ? 0 : (n < 0 ? errno : EIO);
    close(fd);
    return err;
}

static int write_identity_maps(pid_t pid) {
    int err = write_map(pid, "uid_map");
    return err ? err : write_map(pid, "gid_map");
}

static int spawn_common(const struct bw_spawn_attr *attr, int clone_flags, const int *ns_fds, int ns_count,
                        pid_t *child_pid);

int bw_spawn(const struct bw_spawn_attr *attr, pid_t *child_pid) {
    return spawn_common(attr, 0, NULL, 0, child_pid);
}

int bw_spawn_in_namespaces(const struct bw_spawn_attr *attr, int clone_flags, pid_t *child_pid) {
    return spawn_common(attr, clone_flags, NULL, 0, child_pid);
}

int bw_spawn_joining(const struct bw_spawn_attr *attr, const int *ns_fds, int ns_count, pid_t *child_pid) {
    return spawn_common(attr, 0, ns_fds, ns_count, child_pid);
}

static int spawn_common(const struct bw_spawn_attr *attr, int clone_flags, const int *ns_fds, int ns_count,
                        pid_t *child_pid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return errno;
    // With CLONE_NEWUSER the child waits on `release` until its identity maps are written.
    int release[2] = {-1, -1};
    if ((clone_flags & CLONE_NEWUSER) && pipe2(release, O_CLOEXEC) < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        return err;
    }
    // Buffered stdio would otherwise be flushed twice (once by the child if exec fails late).
    fflush(NULL);
    pid_t parent = getpid();
    // clone(2) with CLONE_NEW* flags rather than fork + unshare: the child itself is the new pid
    // namespace's pid 1 (unshare would only put its children there), with no intermediate process. The
    // raw syscall behaves like fork (the child runs on a copy of our stack); the child only makes raw
    // system calls, none of which reads glibc's cached thread id.
    pid_t pid = clone_flags ? (pid_t)syscall(SYS_clone, (unsigned long)(clone_flags | SIGCHLD), NULL, NULL, NULL, 0)
                            : fork();
    if (pid < 0) {
        int err = errno;
        close(report[0]);
        close(report[1]);
        if (release[0] >= 0) { close(release[0]); close(release[1]); }
        return err;
    }
    if (pid == 0) {
        close(report[0]);
        if (release[1] >= 0) close(release[1]);
        child_run(attr, report[1], parent, clone_flags, release[0], ns_fds, ns_count);
    }
    close(report[1]);
    if (release[0] >= 0) {
        close(release[0]);
        int err = write_identity_maps(pid);
        if (err == 0) {
            char go = 1;
            if (write(release[1], &go, 1) != 1) err = errno ? errno : EIO;
        }
        close(release[1]);  // EOF without the byte: the child exits at once
        if (err != 0) {
            close(report[0]);
            int status;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return err;
        }
    }
    int child_errno = 0;
    ssize_t n;
    do {
        n = read(report[0], &child_errno, sizeof(child_errno));
    } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == 0) {  // EOF: execve succeeded and closed the CLOEXEC write end
        *child_pid = pid;
        return 0;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    return (n == (ssize_t)sizeof(child_errno) && child_errno != 0) ? child_errno : EIO;
}

int bw_sigtimedwait_ms(const sigset_t *set, long timeout_ms) {
    struct timespec ts = {timeout_ms / 1000, (timeout_ms % 1000) * 1000000L};
    return sigtimedwait(set, NULL, &ts);
}

void bw_die_by_signal(int sig) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(sig, &dfl, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    kill(getpid(), sig);
}
