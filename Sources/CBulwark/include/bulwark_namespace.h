// Namespace and mount calls glibc's Swift module does not expose (unshare/setns need _GNU_SOURCE;
// pivot_root has no glibc wrapper at all). Header-only so they inline into Swift.
#ifndef BULWARK_NAMESPACE_H
#define BULWARK_NAMESPACE_H
#include <sys/syscall.h>
#include <unistd.h>

/// Why C: unshare(2) is declared only under _GNU_SOURCE.
static inline int bw_unshare(int flags) { return (int)syscall(SYS_unshare, flags); }
/// Why C: setns(2) is declared only under _GNU_SOURCE.
static inline int bw_setns(int fd, int nstype) { return (int)syscall(SYS_setns, fd, nstype); }
/// Why C: glibc has no pivot_root wrapper.
static inline int bw_pivot_root(const char *new_root, const char *put_old) {
    return (int)syscall(SYS_pivot_root, new_root, put_old);
}
/// Namespace flags (from <linux/sched.h>), as plain ints for Swift.
enum {
    BW_CLONE_NEWNS = 0x00020000, BW_CLONE_NEWCGROUP = 0x02000000, BW_CLONE_NEWUTS = 0x04000000,
    BW_CLONE_NEWIPC = 0x08000000, BW_CLONE_NEWUSER = 0x10000000, BW_CLONE_NEWPID = 0x20000000,
    BW_CLONE_NEWNET = 0x40000000, BW_CLONE_NEWTIME = 0x00000080,
};
#endif
