// Raw system calls the gofer uses on its node descriptors. Why C: openat2, renameat2, statx,
// getdents64, fallocate and the xattr calls have no wrapper Swift's Glibc module exposes (they are
// declared only under _GNU_SOURCE, or not at all). Raw syscalls also make the seccomp allowlist exact:
// each wrapper is exactly one syscall, named in its comment.
#ifndef BULWARK_GOFER_H
#define BULWARK_GOFER_H
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <sys/vfs.h>

enum { BW_G_AT_EMPTY_PATH = 0x1000, BW_G_AT_SYMLINK_NOFOLLOW = 0x100, BW_G_AT_SYMLINK_FOLLOW = 0x400,
       BW_G_AT_REMOVEDIR = 0x200, BW_G_O_PATH = 010000000 };

/// openat2(2) confined below `dirfd`: RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
/// | RESOLVE_NO_XDEV is up to the caller through `resolve`.
static inline int bw_g_openat2(int dirfd, const char *name, uint64_t flags, uint64_t mode, uint64_t resolve) {
    struct open_how how = { .flags = flags, .mode = mode, .resolve = resolve };
    return (int)syscall(SYS_openat2, dirfd, name, &how, sizeof how);
}

/// The resolve flags the gofer passes (kept here so Swift need not import linux/openat2.h).
static inline uint64_t bw_g_resolve_confined(void) {
    return RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
}

/// statx(2) into a caller-owned struct.
static inline int bw_g_statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *out) {
    return (int)syscall(SYS_statx, dirfd, path, flags, mask, out);
}

/// renameat2(2).
static inline int bw_g_renameat2(int olddir, const char *oldname, int newdir, const char *newname, unsigned int flags) {
    return (int)syscall(SYS_renameat2, olddir, oldname, newdir, newname, flags);
}

/// getdents64(2).
static inline long bw_g_getdents64(int fd, void *buffer, unsigned long size) {
    return syscall(SYS_getdents64, fd, buffer, size);
}

/// fallocate(2).
static inline int bw_g_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return (int)syscall(SYS_fallocate, fd, mode, offset, length);
}

/// mkdirat(2), mknodat(2), symlinkat(2), linkat(2), unlinkat(2), readlinkat(2).
static inline int bw_g_mkdirat(int dirfd, const char *name, unsigned int mode) {
    return (int)syscall(SYS_mkdirat, dirfd, name, mode);
}
static inline int bw_g_mknodat(int dirfd, const char *name, unsigned int mode, unsigned int dev) {
    return (int)syscall(SYS_mknodat, dirfd, name, mode, dev);
}
static inline int bw_g_symlinkat(const char *target, int dirfd, const char *name) {
    return (int)syscall(SYS_symlinkat, target, dirfd, name);
}
static inline int bw_g_linkat(int olddir, const char *oldname, int newdir, const char *newname, int flags) {
    return (int)syscall(SYS_linkat, olddir, oldname, newdir, newname, flags);
}
static inline int bw_g_unlinkat(int dirfd, const char *name, int flags) {
    return (int)syscall(SYS_unlinkat, dirfd, name, flags);
}
static inline long bw_g_readlinkat(int dirfd, const char *name, char *buffer, unsigned long size) {
    return syscall(SYS_readlinkat, dirfd, name, buffer, size);
}

/// fchmodat(2) (no flags argument), fchownat(2), utimensat(2), ftruncate(2), lseek(2), fstatfs(2).
static inline int bw_g_fchmodat(int dirfd, const char *name, unsigned int mode) {
    return (int)syscall(SYS_fchmodat, dirfd, name, mode);
}
static inline int bw_g_fchownat(int dirfd, const char *name, unsigned int uid, unsigned int gid, int flags) {
    return (int)syscall(SYS_fchownat, dirfd, name, uid, gid, flags);
}
static inline int bw_g_utimensat(int dirfd, const char *name, const void *times, int flags) {
    return (int)syscall(SYS_utimensat, dirfd, name, times, flags);
}
static inline int bw_g_ftruncate(int fd, int64_t length) { return (int)syscall(SYS_ftruncate, fd, length); }
static inline int64_t bw_g_lseek(int fd, int64_t offset, int whence) { return syscall(SYS_lseek, fd, offset, whence); }
static inline int bw_g_fstatfs(int fd, struct statfs *out) { return (int)syscall(SYS_fstatfs, fd, out); }
static inline int bw_g_fsync(int fd, int dataOnly) { return (int)syscall(dataOnly ? SYS_fdatasync : SYS_fsync, fd); }

/// Path-based xattr calls: getxattr(2), setxattr(2), listxattr(2), removexattr(2). The gofer passes
/// "/proc/self/fd/N" for its own node descriptor N (the f* forms refuse O_PATH descriptors).
static inline long bw_g_getxattr(const char *path, const char *name, void *value, unsigned long size) {
    return syscall(SYS_getxattr, path, name, value, size);
}
static inline int bw_g_setxattr(const char *path, const char *name, const void *value, unsigned long size, int flags) {
    return (int)syscall(SYS_setxattr, path, name, value, size, flags);
}
static inline long bw_g_listxattr(const char *path, char *list, unsigned long size) {
    return syscall(SYS_listxattr, path, list, size);
}
static inline int bw_g_removexattr(const char *path, const char *name) {
    return (int)syscall(SYS_removexattr, path, name);
}
/// inotify_init1(2) with IN_NONBLOCK | IN_CLOEXEC (HostWatch).
static inline int bw_g_inotify_init(void) {
    return (int)syscall(SYS_inotify_init1, 04000 | 02000000);
}

/// inotify_add_watch(2) (HostWatch, on a node's /proc/self/fd path).
static inline int bw_g_inotify_add_watch(int fd, const char *path, uint32_t mask) {
    return (int)syscall(SYS_inotify_add_watch, fd, path, mask);
}

/// read(2) of the inotify instance (HostEvents and the drains around the gofer's own changes).
static inline long bw_g_read(int fd, void *buf, unsigned long count) {
    return (long)syscall(SYS_read, fd, buf, count);
}

/// dup(2): the inotify descriptor donated for readiness.
static inline int bw_g_dup(int fd) {
    return (int)syscall(SYS_dup, fd);
}

#endif
