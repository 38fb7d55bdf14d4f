// Check helpers shared by the test programs that print one line per call, run natively and in the
// sandbox and compared line by line (tmpfile_link.c, vfs_families.c, vfs_paths.c): R prints OK or
// the errno's name, V the result or the errno's name. Included as "check.h" (found next to the
// including file, so no include path is needed).
#ifndef BULWARK_TEST_CHECK_H
#define BULWARK_TEST_CHECK_H
#include <errno.h>
#include <stdio.h>

static const char *en(int e) {
    switch (e) {
    case 0: return "OK";
    case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST"; case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR"; case ENOTEMPTY: return "ENOTEMPTY"; case ELOOP: return "ELOOP";
    case EINVAL: return "EINVAL"; case EPERM: return "EPERM"; case EXDEV: return "EXDEV";
    case ENAMETOOLONG: return "ENAMETOOLONG"; case EBADF: return "EBADF"; case EACCES: return "EACCES";
    case EBUSY: return "EBUSY"; case ENXIO: return "ENXIO"; case EROFS: return "EROFS";
    case ENODATA: return "ENODATA"; case ERANGE: return "ERANGE"; case EAGAIN: return "EAGAIN";
    case ESPIPE: return "ESPIPE"; case EOPNOTSUPP: return "EOPNOTSUPP";
    default: { static char b[32]; snprintf(b, sizeof b, "errno%d", e); return b; }
    }
}

/// The call's outcome: "label: OK" or "label: ENAME".
#define R(label, expr) do { errno = 0; long r_ = (long)(expr); printf("%s: %s\n", label, r_ < 0 ? en(errno) : "OK"); } while (0)
/// The call's result: "label: N" or "label: ENAME".
#define V(label, expr) do { errno = 0; long r_ = (long)(expr); if (r_ < 0) printf("%s: %s\n", label, en(errno)); else printf("%s: %ld\n", label, r_); } while (0)

#endif
