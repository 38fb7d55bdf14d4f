// Unix-socket, poll, epoll, eventfd and seccomp helpers for the IPC layer.
// Why C: CMSG_FIRSTHDR/CMSG_NXTHDR/CMSG_DATA/CMSG_SPACE are function-like macros Swift cannot import;
// sockaddr_un path copying is simpler with the real struct; eventfd/epoll/accept4 flags and SOCK_CLOEXEC
// are declared only under _GNU_SOURCE or as macros; code that runs after fork must be C.
#ifndef BULWARK_SOCKET_H
#define BULWARK_SOCKET_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// Upper bound on descriptors in one message (Wire.FrameHeader.maximumFDs).
#define BW_MAX_FDS 8

/// socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC). Returns 0 or -1 with errno.
int bw_socketpair_seqpacket(int fds[2]);

/// A SEQPACKET|CLOEXEC socket bound to `path` and listening. Returns the fd or -1 with errno
/// (ENAMETOOLONG when the path does not fit sockaddr_un).
int bw_listen_unix(const char *path, int backlog);

/// accept4(..., SOCK_CLOEXEC). Returns the fd or -1 with errno.
int bw_accept_cloexec(int listener);

/// A SEQPACKET|CLOEXEC socket connected to `path`. Returns the fd or -1 with errno.
int bw_connect_unix(const char *path);

/// Sets SO_RCVTIMEO (receive != 0) or SO_SNDTIMEO to `micros` (0 = wait forever). Returns 0 or -1.
int bw_set_socket_timeout(int fd, int receive, int64_t micros);

/// One sendmsg(2) of a frame: header bytes, then body bytes (two iovecs, no copy), plus `nfds`
/// descriptors with SCM_RIGHTS. MSG_NOSIGNAL: a closed peer gives EPIPE instead of SIGPIPE.
/// Returns bytes sent or -1 with errno.
ssize_t bw_send_frame(int fd, const void *header, size_t header_len, const void *body, size_t body_len,
                      const int *fds, int nfds);

/// One recvmsg(2) into `buffer`, with room for BW_MAX_FDS descriptors (received with
/// MSG_CMSG_CLOEXEC). Every descriptor that arrived is stored into `fds` (at most BW_MAX_FDS) and
/// counted in `*nfds`, so the caller owns and closes them even when it rejects the message.
/// `*msg_flags` receives msg_flags (MSG_TRUNC, MSG_CTRUNC). Returns bytes received (0 = end of stream)
/// or -1 with errno.
ssize_t bw_recv_frame(int fd, void *buffer, size_t capacity, int *fds, int *nfds, int *msg_flags);

static inline int bw_msg_trunc(void) { return 0x20; }   // MSG_TRUNC
static inline int bw_msg_ctrunc(void) { return 0x08; }  // MSG_CTRUNC

/// eventfd(initial, EFD_CLOEXEC | extra flags). Returns the fd or -1 with errno.
int bw_eventfd(unsigned int initial, int flags);
/// epoll_create1(EPOLL_CLOEXEC).
int bw_epoll_create(void);
/// epoll_ctl with a u64 cookie.
int bw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t cookie);
/// epoll_wait into parallel arrays of events and cookies (epoll_event is packed on x86-64, so Swift
/// does not see its real layout).
int bw_epoll_wait(int epfd, uint32_t *events, uint64_t *cookies, int max, int timeout_ms);

/// Pins the calling thread to `cpu` (sched_setaffinity on the thread id). Returns 0 or -1 with errno.
int bw_pin_to_cpu(int cpu);
/// Lets the calling thread run on every configured CPU again.
int bw_unpin(void);

/// Forks a child that installs the classic-BPF program `filter` (`count` sock_filter instructions)
/// with no_new_privs, then makes the raw system call `nr` and exits 0 if it returned. The parent waits
/// (at most `timeout_ms`, then SIGKILL) and returns the wait status, or -1 with errno.
/// Why C: everything between fork and _exit must be async-signal-safe.
int bw_fork_filtered_syscall(const void *filter, unsigned short count, long nr, int timeout_ms);

#include "bulwark_wait.h"

/// The plain C baseline for bulwark-bench-ipc: a client thread and an echo thread over a SEQPACKET
/// socketpair; `iterations` round trips of `size` bytes, passing one descriptor per request when
/// `pass_fd`. Both threads pinned to `cpu` when cpu >= 0. Returns wall-clock nanoseconds per round
/// trip (or -1) and stores both threads' CPU time per round trip in `*cpu_ns`.
double bw_bench_c_pingpong(long iterations, size_t size, int pass_fd, int cpu, double *cpu_ns);
/// CPU time of the calling thread (CLOCK_THREAD_CPUTIME_ID) in nanoseconds.
double bw_thread_cpu_ns(void);
#endif
