// Process spawning for the launcher: fork + exec with the child side in C, plus signal-set helpers.
// Why C: between fork and exec a multi-threaded Swift process may only run async-signal-safe code
// (no allocation, no locks, no Swift runtime); failure is reported through a CLOEXEC pipe.
#ifndef BULWARK_SPAWN_H
#define BULWARK_SPAWN_H
#include <signal.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/wait.h>

/// What the child does between fork and exec. Fields set to -1 / NULL / 0 mean "leave as inherited".
struct bw_spawn_attr {
    const char *path;          // absolute path of the program (execve, no PATH search)
    char *const *argv;         // NULL-terminated
    char *const *envp;         // NULL-terminated; NULL = inherit the parent's environment
    const char *cwd;           // chdir before exec, or NULL
    int stdin_fd;              // becomes fd 0, or -1 to inherit
    int stdout_fd;             // becomes fd 1, or -1 to inherit
    int stderr_fd;             // becomes fd 2, or -1 to inherit
    const int *keep_fds;       // descriptors whose CLOEXEC flag is cleared so the program inherits them
    int keep_count;
    int reset_signals;         // 1: default dispositions and an empty signal mask in the child
    int parent_death_signal;   // PR_SET_PDEATHSIG value, or 0
    int new_session;           // 1: setsid()
    int cloexec_from;          // >= 3: every descriptor from this number up is closed at exec (except
                               // keep_fds), so a long-lived child does not hold the caller's pipes; -1: no
};

/// Forks and execs. On success returns 0 and stores the child's pid; on failure returns the errno of
/// the step that failed (fork, or any child step up to and including execve), and the child is reaped.
int bw_spawn(const struct bw_spawn_attr *attr, pid_t *child_pid);
/// bw_spawn in new namespaces: `clone_flags` are CLONE_NEW* flags given to clone(2), so the child is
/// pid 1 of a new pid namespace (with CLONE_NEWPID); a new mount namespace is made private (MS_REC |
/// MS_PRIVATE on /) before anything else. With CLONE_NEWUSER the parent writes the identity map of all
/// ids ("0 0 4294967295") to the child's uid_map and gid_map before the child does anything, so it keeps
/// uid 0 and (through execve) full capabilities *inside* its namespace only. Returns EPERM/EINVAL/ENOSPC
/// from clone when namespaces are refused.
int bw_spawn_in_namespaces(const struct bw_spawn_attr *attr, int clone_flags, pid_t *child_pid);

/// Why C: sigset_t manipulation is macro-heavy in glibc and waitpid status decoding uses macros.
static inline int bw_sigset_fill_forwardable(sigset_t *set) {
    sigemptyset(set);
    int sigs[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD, SIGCONT,
                  SIGALRM, SIGPIPE, SIGURG, SIGIO, SIGPWR, SIGVTALRM, SIGPROF, SIGTSTP, SIGTTIN, SIGTTOU};
    for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) sigaddset(set, sigs[i]);
    return 0;
}
static inline int bw_sigset_empty(sigset_t *set) { return sigemptyset(set); }
static inline int bw_sigset_add(sigset_t *set, int sig) { return sigaddset(set, sig); }
static inline int bw_sigprocmask_block(const sigset_t *set) { return sigprocmask(SIG_BLOCK, set, NULL); }
static inline int bw_sigprocmask_unblock(const sigset_t *set) { return sigprocmask(SIG_UNBLOCK, set, NULL); }
/// Waits up to timeout_ms for one signal of `set`; returns the signal, or -1 with errno (EAGAIN on timeout).
int bw_sigtimedwait_ms(const sigset_t *set, long timeout_ms);
/// Resets `sig` to its default disposition, unblocks it and sends it to ourselves (to die "the same way").
void bw_die_by_signal(int sig);

#include "bulwark_wait.h"
#endif
