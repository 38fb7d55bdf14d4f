// Wait-status decoding. Why C: WIFEXITED and friends are function-like macros, never imported.
// Shared by every caller of waitpid/wait4 (launcher, tests, Sentry); define them only here.
#ifndef BULWARK_WAIT_H
#define BULWARK_WAIT_H
#include <sys/wait.h>

static inline int bw_wifexited(int status) { return WIFEXITED(status); }
static inline int bw_wexitstatus(int status) { return WEXITSTATUS(status); }
static inline int bw_wifsignaled(int status) { return WIFSIGNALED(status); }
static inline int bw_wtermsig(int status) { return WTERMSIG(status); }
static inline int bw_wifstopped(int status) { return WIFSTOPPED(status); }
static inline int bw_wstopsig(int status) { return WSTOPSIG(status); }
#endif
