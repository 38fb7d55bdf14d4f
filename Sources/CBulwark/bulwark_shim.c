// Out-of-line part of the C shim. Most wrappers are static inline in include/; code that must run
// between fork and exec or inside a signal handler lives in .c files here (async-signal-safe C).
#include "bulwark_syscall.h"
