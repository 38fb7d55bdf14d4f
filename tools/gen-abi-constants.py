#!/usr/bin/env python3
"""Generates Sources/LinuxABI/Constants.swift: the kernel uapi constants the Sentry needs (signals, SA_*,
O_*, F_*, AT_*, mmap, clone, wait, futex, auxv, ioctls, poll/epoll, rlimits, clocks, prctl...).

Names are harvested from `#define NAME value` lines of the listed uapi headers (function-like macros are
skipped); VALUES are computed by the C compiler: the tool writes a C program that includes the headers and
prints every name, so expressions such as (__O_SYNC|O_DSYNC) or _IOR(...) are evaluated exactly as the
kernel headers define them. Needs /usr/bin/cc and linux-libc-dev.
Usage: tools/gen-abi-constants.py [OUTPUT]   (tools/check-generated reruns it and fails on a diff)."""
import os, re, subprocess, sys, tempfile

OUT = sys.argv[1] if len(sys.argv) > 1 else "Sources/LinuxABI/Constants.swift"
INCLUDE_DIRS = ["/usr/include", "/usr/include/x86_64-linux-gnu"]

# Every header the C program includes (order matters only for compilation).
C_HEADERS = ["linux/types.h", "linux/signal.h", "asm/siginfo.h", "linux/fcntl.h", "asm/mman.h", "linux/mman.h",
             "linux/sched.h", "linux/wait.h", "linux/futex.h", "linux/auxvec.h", "asm/ioctls.h",
             "linux/eventpoll.h", "asm/poll.h", "linux/stat.h", "linux/resource.h", "linux/time.h",
             "asm/prctl.h", "linux/prctl.h", "asm/termbits.h", "linux/serial.h", "linux/fs.h", "linux/memfd.h",
             "linux/random.h", "asm/socket.h", "linux/inotify.h", "linux/close_range.h"]
# No libc header: <linux/stat.h> hides S_IF* when __GLIBC__ is defined, so printf is declared by hand.
# x86's <asm/signal.h> defines SIGRTMAX as _NSIG but declares _NSIG only inside the kernel: it is 64.
C_PROLOGUE = ["extern int printf(const char *, ...);", "#define _NSIG 64"]

# (Swift type, kind, raw type, doc, headers harvested, name regex, excluded names)
#   kind "value":   open RawRepresentable struct with static lets, `name` and `init?(name:)` (like Errno)
#   kind "options": OptionSet struct with static lets
#   kind "consts":  caseless enum of typed static lets (for groups whose values overlap or mix kinds)
GROUPS = [
    ("Signal", "value", "Int32", "A signal number (x86-64), <asm/signal.h>. SIGRTMIN...SIGRTMAX are real-time.",
     ["asm/signal.h"], r"SIG[A-Z0-9]+", {"SIGSTKSZ"}),
    ("SigActionFlags", "options", "UInt64", "sa_flags of the kernel's struct sigaction, <asm/signal.h>.",
     ["asm/signal.h", "asm-generic/signal-defs.h"], r"SA_[A-Z_]+", set()),
    ("SignalConstants", "consts", "Int32",
     "rt_sigprocmask `how` (SIG_*), sigaltstack flags (SS_*) and stack sizes, <linux/signal.h>.",
     ["asm/signal.h", "asm-generic/signal-defs.h", "linux/signal.h"], r"SIG_(BLOCK|UNBLOCK|SETMASK)|SS_[A-Z_]+|MINSIGSTKSZ|SIGSTKSZ",
     set()),
    ("SigInfoCode", "consts", "Int32", "si_code values per signal family, <asm-generic/siginfo.h>.",
     ["asm-generic/siginfo.h"], r"(SI|ILL|FPE|SEGV|BUS|TRAP|CLD|POLL|SYS)_[A-Z0-9_]+",
     {"SI_MAX_SIZE", "SI_EXPANSION_ARCH"}),
    ("OpenFlags", "options", "UInt32", "open(2)/openat(2) flags, <asm-generic/fcntl.h> (x86-64 uses the generic values).",
     ["asm-generic/fcntl.h"], r"O_[A-Z]+", set()),
    ("FcntlCommand", "value", "Int32", "fcntl(2) commands, <asm-generic/fcntl.h> and <linux/fcntl.h>.",
     ["asm-generic/fcntl.h", "linux/fcntl.h"],
     r"F_(DUPFD|GETFD|SETFD|GETFL|SETFL|GETLK|SETLK|SETLKW|SETOWN|GETOWN|SETSIG|GETSIG|SETOWN_EX|GETOWN_EX|"
     r"GETOWNER_UIDS|OFD_GETLK|OFD_SETLK|OFD_SETLKW|SETLEASE|GETLEASE|NOTIFY|DUPFD_CLOEXEC|SETPIPE_SZ|"
     r"GETPIPE_SZ|ADD_SEALS|GET_SEALS|GET_RW_HINT|SET_RW_HINT|GET_FILE_RW_HINT|SET_FILE_RW_HINT|CANCELLK)", set()),
    ("FcntlConstants", "consts", "Int32",
     "fcntl arguments: FD_CLOEXEC, lock types, seals, owner types, dnotify, flock, AT_FDCWD.",
     ["asm-generic/fcntl.h", "linux/fcntl.h"],
     r"FD_CLOEXEC|F_(RDLCK|WRLCK|UNLCK|EXLCK|SHLCK)|F_SEAL_[A-Z_]+|F_OWNER_[A-Z]+|DN_[A-Z]+|LOCK_[A-Z]+|AT_FDCWD",
     set()),
    ("AtFlags", "options", "UInt32", "*at(2) flags (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH, ...), <linux/fcntl.h>.",
     ["linux/fcntl.h"], r"AT_[A-Z_]+", {"AT_FDCWD"}),
    ("FileMode", "consts", "UInt32", "st_mode file types and permission bits (S_IF*, S_I*), <linux/stat.h>.",
     ["linux/stat.h"], r"S_I[A-Z]+", set()),
    ("StatxMask", "options", "UInt32", "statx(2) mask bits (STATX_*), <linux/stat.h>.",
     ["linux/stat.h"], r"STATX_(?!ATTR_)[A-Z_]+", set()),
    ("StatxAttributes", "options", "UInt64", "statx stx_attributes bits (STATX_ATTR_*), <linux/stat.h>.",
     ["linux/stat.h"], r"STATX_ATTR_[A-Z_]+", set()),
    ("MmapProt", "options", "UInt32", "mmap/mprotect protection bits, <asm-generic/mman-common.h>.",
     ["asm-generic/mman-common.h"], r"PROT_[A-Z_]+", set()),
    ("MmapFlags", "options", "UInt32", "mmap(2) flags (x86-64 adds MAP_32BIT), <asm/mman.h> and friends.",
     ["asm-generic/mman-common.h", "asm-generic/mman.h", "asm/mman.h", "linux/mman.h"], r"MAP_[A-Z0-9_]+",
     {"MAP_HUGE_SHIFT", "MAP_HUGE_MASK"}),
    ("MmapConstants", "consts", "Int32",
     "madvise advice (MADV_*), mremap/msync/mlockall flags, MAP_HUGE_SHIFT/MASK, <asm-generic/mman-common.h>.",
     ["asm-generic/mman-common.h", "asm-generic/mman.h", "linux/mman.h"],
     r"MADV_[A-Z_0-9]+|MREMAP_[A-Z_]+|MS_(ASYNC|INVALIDATE|SYNC)|MCL_[A-Z]+|MAP_HUGE_(SHIFT|MASK)|MLOCK_[A-Z]+", set()),
    ("CloneFlags", "options", "UInt64", "clone(2)/clone3 flags (low byte: CSIGNAL, the exit signal), <linux/sched.h>.",
     ["linux/sched.h"], r"CLONE_[A-Z_]+|CSIGNAL", {"CLONE_ARGS_SIZE_VER0", "CLONE_ARGS_SIZE_VER1", "CLONE_ARGS_SIZE_VER2"}),
    ("SchedConstants", "consts", "Int32", "Scheduling policies and sched_attr flags, <linux/sched.h>.",
     ["linux/sched.h"], r"SCHED_[A-Z_]+", set()),
    ("WaitOptions", "options", "UInt32", "wait4/waitid options (W*, __W*), <linux/wait.h>.",
     ["linux/wait.h"], r"W[A-Z]+|__W[A-Z]+", set()),
    ("WaitIDType", "value", "Int32", "waitid(2) idtype (P_ALL, P_PID, P_PGID, P_PIDFD), <linux/wait.h>.",
     ["linux/wait.h"], r"P_[A-Z]+", set()),
    ("Futex", "consts", "UInt32", "futex(2) operations, flags and FUTEX_OP encodings, <linux/futex.h>.",
     ["linux/futex.h"], r"FUTEX_[A-Z0-9_]+|ROBUST_LIST_LIMIT", set()),
    ("AuxvType", "value", "UInt64", "Auxiliary vector entry types (AT_*), <linux/auxvec.h> and <asm/auxvec.h>.",
     ["linux/auxvec.h", "asm/auxvec.h"], r"AT_[A-Z0-9_]+", {"AT_VECTOR_SIZE_ARCH"}),
    ("IoctlRequest", "consts", "UInt32", "tty and file ioctl requests (TC*, TIOC*, FIO*), <asm-generic/ioctls.h>.",
     ["asm-generic/ioctls.h"], r"(TC|TIOC|FIO)[A-Z0-9_]+", set()),
    ("PollEvents", "options", "UInt16", "poll(2) event bits, <asm-generic/poll.h>.",
     ["asm-generic/poll.h"], r"POLL[A-Z]+", {"POLLFREE"}),
    ("EpollConstants", "consts", "UInt32", "epoll_ctl operations, event bits and EPOLL_CLOEXEC, <linux/eventpoll.h>.",
     ["linux/eventpoll.h"], r"EPOLL[A-Z_]*", {"EPOLL_PACKED"}),
    ("RLimitResource", "value", "Int32", "getrlimit/prlimit64 resources, <asm-generic/resource.h>.",
     ["asm-generic/resource.h"], r"RLIMIT_[A-Z]+|RLIM_NLIMITS", set()),
    ("ResourceConstants", "consts", "Int32", "getrusage `who` (RUSAGE_*) and priority `which` (PRIO_*), <linux/resource.h>.",
     ["linux/resource.h"], r"RUSAGE_[A-Z]+|PRIO_[A-Z]+", set()),
    ("ClockID", "value", "Int32", "clock_gettime clock ids, <linux/time.h>.",
     ["linux/time.h"], r"CLOCK_[A-Z_]+", set()),
    ("TimerConstants", "consts", "Int32", "TIMER_ABSTIME and itimer kinds, <linux/time.h>.",
     ["linux/time.h"], r"TIMER_ABSTIME|ITIMER_[A-Z]+", set()),
    ("ArchPrctl", "value", "Int32", "arch_prctl(2) codes (ARCH_SET_FS, ...), <asm/prctl.h>.",
     ["asm/prctl.h"], r"ARCH_[A-Z0-9_]+", set()),
    ("SeekWhence", "value", "Int32", "lseek(2) whence (SEEK_SET ... SEEK_HOLE), <linux/fs.h>.",
     ["linux/fs.h"], r"SEEK_(SET|CUR|END|DATA|HOLE)", set()),
    ("RenameFlags", "options", "UInt32", "renameat2(2) flags, <linux/fs.h>.", ["linux/fs.h"], r"RENAME_[A-Z]+", set()),
    ("MemfdFlags", "options", "UInt32", "memfd_create(2) flags (MFD_HUGE_* sizes excluded), <linux/memfd.h>.",
     ["linux/memfd.h"], r"MFD_(CLOEXEC|ALLOW_SEALING|HUGETLB|NOEXEC_SEAL|EXEC)", set()),
    ("GetrandomFlags", "options", "UInt32", "getrandom(2) flags, <linux/random.h>.", ["linux/random.h"],
     r"GRND_[A-Z]+", set()),
    ("SocketConstants", "consts", "Int32",
     "SOL_SOCKET and its SO_* options, <asm-generic/socket.h>; x86-64 uses the *_OLD timestamp/timeout numbers "
     "(the unsuffixed names depend on the libc's time_t and are left out).",
     ["asm-generic/socket.h"], r"SOL_SOCKET|SO_[A-Z0-9_]+",
     {"SO_TIMESTAMP", "SO_TIMESTAMPNS", "SO_TIMESTAMPING", "SO_RCVTIMEO", "SO_SNDTIMEO"}),
    ("TermiosConstants", "consts", "UInt32",
     "struct termios flag bits, c_cc indices and baud rates, <asm-generic/termbits.h> and termbits-common.h.",
     ["asm-generic/termbits-common.h", "asm-generic/termbits.h"], r"[A-Z][A-Z0-9_]*", set()),
    ("Inotify", "consts", "UInt32", "inotify event bits and inotify_init1 flags, <linux/inotify.h>.",
     ["linux/inotify.h"], r"IN_[A-Z_]+", set()),
    ("CloseRangeFlags", "options", "UInt32", "close_range(2) flags, <linux/close_range.h>.",
     ["linux/close_range.h"], r"CLOSE_RANGE_[A-Z]+", set()),
    ("Prctl", "consts", "Int64", "prctl(2) options and their arguments (PR_*), <linux/prctl.h>.",
     ["linux/prctl.h"], r"PR_[A-Z0-9_]+", set()),
]

RANGES = {"Int16": (-2**15, 2**15 - 1), "UInt16": (0, 2**16 - 1), "Int32": (-2**31, 2**31 - 1),
          "UInt32": (0, 2**32 - 1), "Int64": (-2**63, 2**63 - 1), "UInt64": (0, 2**64 - 1)}


def header_path(h):
    for d in INCLUDE_DIRS:
        if os.path.exists(os.path.join(d, h)):
            return os.path.join(d, h)
    sys.exit(f"missing header {h} (install linux-libc-dev)")


def harvest(headers, pattern, exclude):
    """Object-like #define names matching `pattern`, in header order, first definition wins."""
    rx = re.compile(r"#\s*define\s+(?P<name>" + pattern + r")(?:\s+(?P<value>.*))?$")
    names = []
    for h in headers:
        for line in open(header_path(h)):
            m = rx.match(line.strip())
            if m and m.group("name") not in exclude and m.group("name") not in names and m.group("value"):
                names.append(m.group("name"))
    return names


def evaluate(all_names):
    """Values of the names as the C compiler sees them; names not defined in this configuration are dropped."""
    src = C_PROLOGUE + [f"#include <{h}>" for h in C_HEADERS] + ["int main(void) {"]
    for n in all_names:
        src += [f"#ifdef {n}", f'  printf("%s %lld %llu\\n", "{n}", (long long)({n}), (unsigned long long)({n}));',
                "#endif"]
    src += ["  return 0;", "}"]
    with tempfile.TemporaryDirectory() as d:
        c, exe = os.path.join(d, "consts.c"), os.path.join(d, "consts")
        open(c, "w").write("\n".join(src) + "\n")
        subprocess.run(["/usr/bin/cc", "-w", "-o", exe, c], check=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
    values = {}
    for line in out.splitlines():
        name, signed, unsigned = line.split()
        values[name] = (int(signed), int(unsigned))
    return values


def fit(name, pair, raw):
    """The value in the Swift raw type: signed types take the C value as signed, unsigned ones as
    unsigned truncated to the width (e.g. (1U<<31) in UInt32)."""
    lo, hi = RANGES[raw]
    signed, unsigned = pair
    if raw.startswith("U"):
        v = unsigned & hi
        if signed < 0 and signed < -(hi + 1) // 2:
            sys.exit(f"{name} = {signed} does not fit {raw}")
    else:
        v = signed
        if not (lo <= v <= hi):
            # an unsigned C constant with the sign bit set (1U << 31) in a signed field: two's complement
            if 0 <= v <= 2 * hi + 1:
                v -= 2 * (hi + 1)
            else:
                sys.exit(f"{name} = {signed} does not fit {raw}")
    return v


def swift_name(n):
    return f"`{n}`" if n in ("default",) else n


# Literal style per group: options in hex, file modes and open flags in octal (as the headers write them),
# everything else decimal when small and hex when it is a bit pattern.
OCTAL = {"FileMode", "OpenFlags"}
HEX = {"IoctlRequest", "EpollConstants"}


def literal(v, group, kind):
    if v < 0 or (v < 10 and group not in OCTAL):
        return str(v)
    if group in OCTAL:
        return "0o" + format(v, "o")
    if kind == "options" or group in HEX or v > 255:
        return hex(v)
    return str(v)


groups = [(t, k, raw, doc, harvest(hs, pat, ex)) for (t, k, raw, doc, hs, pat, ex) in GROUPS]
values = evaluate(sorted({n for g in groups for n in g[4]}))

out = ["// Linux x86-64 uapi constants. Generated by tools/gen-abi-constants.py (names from the kernel's uapi",
       "// headers, values computed by the C compiler from the same headers): do not edit by hand.", ""]
for (t, kind, raw, doc, names) in groups:
    names = [n for n in names if n in values]
    entries = [(n, fit(n, values[n], raw)) for n in names]
    out.append(f"/// {doc}")
    if kind == "consts":
        out.append(f"public enum {t} {{")
        for n, v in entries:
            out.append(f"    public static let {swift_name(n)}: {raw} = {literal(v, t, kind)}")
        out += ["}", ""]
        continue
    if kind == "options":
        out += [f"public struct {t}: OptionSet, Hashable, Sendable {{",
                f"    public var rawValue: {raw}",
                f"    @inlinable public init(rawValue: {raw}) {{ self.rawValue = rawValue }}", ""]
        for n, v in entries:
            if v == 0:  # an empty set (O_RDONLY, PROT_NONE): spelled [] to say so
                out.append(f"    public static let {swift_name(n)}: {t} = []")
            else:
                out.append(f"    public static let {swift_name(n)} = {t}(rawValue: {literal(v, t, kind)})")
        out += ["}", ""]
        continue
    # value: open struct with names; the first name in header order wins for a shared value
    out += [f"public struct {t}: RawRepresentable, Hashable, Sendable, CustomStringConvertible {{",
            f"    public var rawValue: {raw}",
            f"    @inlinable public init(rawValue: {raw}) {{ self.rawValue = rawValue }}", ""]
    for n, v in entries:
        out.append(f"    public static let {swift_name(n)} = {t}(rawValue: {literal(v, t, kind)})")
    out += ["", f"    /// The symbolic name, or \"{t}(N)\" for a value Linux does not name.",
            "    public var name: String {", "        switch rawValue {"]
    seen = set()
    for n, v in entries:
        if v not in seen:
            seen.add(v)
            out.append(f"        case {literal(v, t, kind)}: return \"{n}\"")
    out += [f"        default: return \"{t}(\\(rawValue))\"", "        }", "    }", "",
            "    /// Looks a symbolic name up; nil for an unknown name.",
            "    public init?(name: String) {", "        switch name {"]
    for n, v in sorted(entries):
        out.append(f"        case \"{n}\": self.init(rawValue: {literal(v, t, kind)})")
    out += ["        default: return nil", "        }", "    }", "",
            "    public var description: String { name }", "}", ""]
open(OUT, "w").write("\n".join(out).rstrip("\n") + "\n")
