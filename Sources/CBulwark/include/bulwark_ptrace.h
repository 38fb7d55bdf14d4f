// Sentry ptrace platform shim: fixed-argument wrappers for variadic/macro-only libc APIs (ptrace,
// wait status macros, memfd, affinity) and the stub process entry point (bulwark_stub.c).
#ifndef BULWARK_PTRACE_H
#define BULWARK_PTRACE_H
#include <stdint.h>
#include <sys/types.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <signal.h>
#include <unistd.h>
#include <errno.h>

/// The stub page: mapped at this fixed address in the Sentry before any stub is forked, so every stub
/// inherits it. Layout: +0 `syscall; int3` (injected calls), +16 stub init (unmap everything else, int3),
/// +0x200 the systrap code (bulwark_systrap.c, up to +0x2000), +0x2800 the systrap boot trap.
#define BW_STUB_ADDR 0x700000000000UL
#define BW_STUB_SIZE 0x3000UL
#define BW_TASK_SIZE 0x7ffffffff000UL

static inline unsigned long bw_stub_addr(void) { return BW_STUB_ADDR; }
static inline unsigned long bw_stub_size(void) { return BW_STUB_SIZE; }
static inline unsigned long bw_task_size(void) { return BW_TASK_SIZE; }

/// Maps and fills the stub page in the Sentry. Returns 0 or -errno.
int bw_stub_install(void);
/// Forks a stub process that keeps only `memfd` open and the stub page mapped, traced by the calling
/// thread (PTRACE_TRACEME). Returns the pid (or -errno). The child stops with SIGTRAP when ready.
long bw_stub_fork(int memfd);
/// Like bw_stub_fork, but vfork + exec of an in-memory stub ELF (cheap: no copy of the Sentry's page
/// tables). The child stops with SIGTRAP after exec, then again at the init routine's int3.
/// -ENOSYS if the stub ELF could not be made.
long bw_stub_spawn(int memfd);

static inline long bw_ptrace(long req, long pid, unsigned long addr, unsigned long data) {
    errno = 0;
    return ptrace((enum __ptrace_request)req, (pid_t)pid, (void *)addr, (void *)data);
}
static inline long bw_getregs(long pid, struct user_regs_struct *r) { return ptrace(PTRACE_GETREGS, (pid_t)pid, 0, r); }
static inline long bw_setregs(long pid, const struct user_regs_struct *r) { return ptrace(PTRACE_SETREGS, (pid_t)pid, 0, (void *)r); }
static inline long bw_getfpregs(long pid, void *buf512) { return ptrace(PTRACE_GETFPREGS, (pid_t)pid, 0, buf512); }
static inline long bw_setfpregs(long pid, const void *buf512) { return ptrace(PTRACE_SETFPREGS, (pid_t)pid, 0, (void *)buf512); }
static inline long bw_sysemu(long pid, int sig) { return ptrace((enum __ptrace_request)31 /*PTRACE_SYSEMU*/, (pid_t)pid, 0, (void *)(long)sig); }
static inline long bw_cont(long pid, int sig) { return ptrace(PTRACE_CONT, (pid_t)pid, 0, (void *)(long)sig); }
static inline long bw_setoptions(long pid, long opts) { return ptrace(PTRACE_SETOPTIONS, (pid_t)pid, 0, (void *)opts); }
static inline long bw_ptrace_opts(void) { return PTRACE_O_EXITKILL | PTRACE_O_TRACESYSGOOD; }

/// waitpid(pid, &status, __WALL), retrying EINTR. Returns pid or -errno.
static inline long bw_waitpid(long pid, int *status) {
    for (;;) {
        long r = waitpid((pid_t)pid, status, __WALL);
        if (r >= 0) return r;
        if (errno != EINTR) return -errno;
    }
}
#include "bulwark_wait.h"

static inline int bw_memfd_create(const char *name, unsigned flags) { return (int)syscall(SYS_memfd_create, name, flags); }
static inline int bw_kill_pid(long pid, int sig) { return (int)syscall(SYS_kill, pid, sig); }
static inline int bw_tgkill(long tgid, long tid, int sig) { return (int)syscall(SYS_tgkill, tgid, tid, sig); }
static inline int bw_fallocate(int fd, int mode, long off, long len) { return (int)syscall(SYS_fallocate, fd, mode, off, len); }
static inline long bw_getrandom(void *buf, unsigned long len, unsigned flags) { return syscall(SYS_getrandom, buf, len, flags); }
#include <sys/ioctl.h>
static inline int bw_ioctl(int fd, unsigned long cmd, void *arg) { return ioctl(fd, cmd, arg); }
static inline long bw_getdents64(int fd, void *buf, unsigned long n) { return syscall(SYS_getdents64, fd, buf, n); }
/// openat2 with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS: opens `path` as if `rootfd` were "/".
static inline int bw_openat2_in_root(int rootfd, const char *path, unsigned long flags, unsigned long mode) {
    struct { unsigned long long flags, mode, resolve; } how = { flags, mode, 0x10 | 0x02 };
    return (int)syscall(437 /* SYS_openat2 */, rootfd, path, &how, sizeof how);
}
/// Pins the calling thread to one CPU (sched_setaffinity); -errno on failure.
int bw_pin_self(int cpu);
int bw_pin_pid(long pid, int cpu);
int bw_current_cpu(void);
/// Records the process's CPU mask (call once at start-up, before any thread pins itself).
void bw_record_process_cpus(void);
/// Widens the calling (possibly pinned) thread's mask to the recorded process mask for a helper
/// process spawn, so the child does not inherit the pin; bw_spawn_affinity_end restores it.
/// 0, or -errno / -1 (nothing recorded): the spawn then inherits the thread's mask as before.
int bw_spawn_affinity_begin(void);
void bw_spawn_affinity_end(void);
#endif
