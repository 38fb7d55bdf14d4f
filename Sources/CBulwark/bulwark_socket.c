// Out-of-line socket helpers (CMSG macros, sockaddr_un), the fork+filter probe used by the seccomp
// tests, and the plain-C ping-pong baseline of bulwark-bench-ipc. See include/bulwark_socket.h.
#define _GNU_SOURCE
#include "bulwark_socket.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int bw_socketpair_seqpacket(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

static int fill_sockaddr(struct sockaddr_un *addr, const char *path) {
    size_t len = strlen(path);
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    if (len == 0 || len >= sizeof(addr->sun_path)) { errno = ENAMETOOLONG; return -1; }
    memcpy(addr->sun_path, path, len + 1);
    return 0;
}

int bw_listen_unix(const char *path, int backlog) {
    struct sockaddr_un addr;
    if (fill_sockaddr(&addr, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, backlog) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int bw_accept_cloexec(int listener) {
    return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

int bw_connect_unix(const char *path) {
    struct sockaddr_un addr;
    if (fill_sockaddr(&addr, path) < 0) return -1;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int rc;
    do { rc = connect(fd, (struct sockaddr *)&addr, sizeof(addr)); } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int bw_set_socket_timeout(int fd, int receive, int64_t micros) {
    struct timeval tv = { .tv_sec = micros / 1000000, .tv_usec = micros % 1000000 };
    return setsockopt(fd, SOL_SOCKET, receive ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, sizeof(tv));
}

// Control buffer sized for BW_MAX_FDS descriptors; a union keeps it aligned for struct cmsghdr.
typedef union {
    char bytes[CMSG_SPACE(sizeof(int) * BW_MAX_FDS)];
    struct cmsghdr align;
} control_buffer;

ssize_t bw_send_frame(int fd, const void *header, size_t header_len, const void *body, size_t body_len,
                      const int *fds, int nfds) {
    if (nfds < 0 || nfds > BW_MAX_FDS) { errno = EINVAL; return -1; }
    struct iovec iov[2] = {
        { .iov_base = (void *)header, .iov_len = header_len },
        { .iov_base = (void *)body, .iov_len = body_len },
    };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = body_len > 0 ? 2 : 1 };
    control_buffer control;
    if (nfds > 0) {
        memset(&control, 0, sizeof(control));
        msg.msg_control = control.bytes;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * (size_t)nfds);
    }
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}

ssize_t bw_recv_frame(int fd, void *buffer, size_t capacity, int *fds, int *nfds, int *msg_flags) {
    struct iovec iov = { .iov_base = buffer, .iov_len = capacity };
    control_buffer control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control.bytes, .msg_controllen = sizeof(control.bytes) };
    *nfds = 0;
    *msg_flags = 0;
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;
    *msg_flags = msg.msg_flags;
    // Collect every descriptor that arrived, whatever the message turns out to be, so none leaks.
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        const unsigned char *data = CMSG_DATA(c);
        for (size_t i = 0; i < count; i++) {
            int received;
            memcpy(&received, data + i * sizeof(int), sizeof(int));
            if (*nfds < BW_MAX_FDS) fds[(*nfds)++] = received;
            else close(received);  // cannot happen with this control size; never leak one anyway
        }
    }
    return n;
}

int bw_eventfd(unsigned int initial, int flags) { return eventfd(initial, EFD_CLOEXEC | flags); }

int bw_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int bw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t cookie) {
    struct epoll_event ev = { .events = events, .data.u64 = cookie };
    return epoll_ctl(epfd, op, fd, &ev);
}

int bw_epoll_wait(int epfd, uint32_t *events, uint64_t *cookies, int max, int timeout_ms) {
    struct epoll_event ready[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, ready, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i] = ready[i].events;
        cookies[i] = ready[i].data.u64;
    }
    return n;
}

int bw_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity((pid_t)syscall(SYS_gettid), sizeof(set), &set);
}

int bw_unpin(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    for (long i = 0; i < cpus && i < CPU_SETSIZE; i++) CPU_SET((int)i, &set);
    return sched_setaffinity((pid_t)syscall(SYS_gettid), sizeof(set), &set);
}

int bw_fork_filtered_syscall(const void *filter, unsigned short count, long nr, int timeout_ms) {
    struct sock_fprog prog = { .len = count, .filter = (struct sock_filter *)filter };
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        // Child: only raw system calls from here on.
        if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) _exit(120);
        if (syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0) _exit(121);
        syscall(nr, 0, 0, 0, 0, 0, 0);
        syscall(SYS_exit_group, 0);
        _exit(0);
    }
    int status = 0;
    for (int waited = 0;; waited += 1) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0 && errno != EINTR) return -1;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
            return status;
        }
        struct timespec ms = { 0, 1000000 };
        nanosleep(&ms, NULL);
    }
}

// ---- plain C baseline for the benchmark ---------------------------------------------------------

struct bench_args {
    int fd;
    long iterations;
    size_t size;
    int cpu;
    double cpu_ns;  // the echo thread's CPU time
};

double bw_thread_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static char bench_echo_buffer[1 << 16];

static void *bench_echo(void *p) {
    struct bench_args *a = p;
    if (a->cpu >= 0) bw_pin_to_cpu(a->cpu);
    double cpu_start = bw_thread_cpu_ns();
    for (long i = 0; i < a->iterations; i++) {
        int fds[BW_MAX_FDS], nfds = 0, flags = 0;
        ssize_t n = bw_recv_frame(a->fd, bench_echo_buffer, sizeof(bench_echo_buffer), fds, &nfds, &flags);
        if (n <= 0) break;
        for (int k = 0; k < nfds; k++) close(fds[k]);
        if (send(a->fd, bench_echo_buffer, (size_t)n, MSG_NOSIGNAL) != n) break;
    }
    a->cpu_ns = bw_thread_cpu_ns() - cpu_start;
    return NULL;
}

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double bw_bench_c_pingpong(long iterations, size_t size, int pass_fd, int cpu, double *cpu_ns) {
    static char out[1 << 16], in[1 << 16];
    if (size > sizeof(out) || size == 0) return -1;
    int sv[2];
    if (bw_socketpair_seqpacket(sv) < 0) return -1;
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) { close(sv[0]); close(sv[1]); return -1; }
    struct bench_args args = { .fd = sv[1], .iterations = iterations, .size = size, .cpu = cpu, .cpu_ns = 0 };
    pthread_t thread;
    if (pthread_create(&thread, NULL, bench_echo, &args) != 0) return -1;
    if (cpu >= 0) bw_pin_to_cpu(cpu);
    memset(out, 7, size);
    double start = now_ns();
    double cpu_start = bw_thread_cpu_ns();
    long done = 0;
    for (; done < iterations; done++) {
        ssize_t sent = bw_send_frame(sv[0], out, size, NULL, 0, pipefd, pass_fd ? 1 : 0);
        if (sent != (ssize_t)size) break;
        int fds[BW_MAX_FDS], nfds = 0, flags = 0;
        ssize_t n = bw_recv_frame(sv[0], in, sizeof(in), fds, &nfds, &flags);
        if (n != (ssize_t)size) break;
    }
    double elapsed = now_ns() - start;
    double client_cpu = bw_thread_cpu_ns() - cpu_start;
    shutdown(sv[0], SHUT_RDWR);
    pthread_join(thread, NULL);
    if (cpu >= 0) bw_unpin();
    close(sv[0]); close(sv[1]); close(pipefd[0]); close(pipefd[1]);
    if (done != iterations) return -1;
    *cpu_ns = (client_cpu + args.cpu_ns) / (double)iterations;
    return elapsed / (double)iterations;
}
