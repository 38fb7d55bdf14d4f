// Spawning a program inside another process's namespaces (the launcher's createContainer hooks run in
// the container's mount and network namespaces, i.e. the supervisor's). Why C: setns(CLONE_NEWNS) is
// refused to a multi-threaded process (its fs_struct is shared), so it is done in the forked child,
// between fork and exec, where only async-signal-safe code may run.
#ifndef BULWARK_SPAWN_JOIN_H
#define BULWARK_SPAWN_JOIN_H
#include "bulwark_spawn.h"

/// bw_spawn, but the child first joins each namespace in `ns_fds` (open /proc/PID/ns/* descriptors, in
/// order; setns with nstype 0) before anything else, including the chdir to attr->cwd. A failed setns is
/// reported like any child step (its errno is returned and the child reaped).
int bw_spawn_joining(const struct bw_spawn_attr *attr, const int *ns_fds, int ns_count, pid_t *child_pid);
#endif
