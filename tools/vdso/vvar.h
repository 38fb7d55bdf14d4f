/* The vvar page: what the Sentry publishes and Bulwark's vDSO reads. One page, mapped read-only into the
 * application at (vDSO base - 4096). The Sentry is the only writer (SentryVDSO.VDSOTimekeeper); every
 * field is little-endian and naturally aligned, and the Swift mirror is SentryVDSO.VVarLayout (offsets are
 * asserted at compile time below and checked against the Swift constants by tests/readelf of the image).
 *
 * Reading protocol (a seqlock): read seq; if odd, the writer is mid-update: retry. Read the fields, read
 * seq again; if it changed, retry. The writer bumps seq to odd, writes, bumps it to even. */
#ifndef BULWARK_VVAR_H
#define BULWARK_VVAR_H

typedef unsigned int u32;
typedef int s32;
typedef unsigned long long u64;
typedef long long s64;

enum {
    VVAR_MODE_SYSCALL = 0, /* every clock call takes the real syscall (no usable TSC, or not set up yet) */
    VVAR_MODE_TSC = 1,     /* clocks computed from rdtsc with the parameters below */
};
enum {
    VVAR_GETCPU_SYSCALL = 0, /* getcpu takes the real syscall */
    VVAR_GETCPU_RDTSCP = 1,  /* getcpu reads IA32_TSC_AUX with rdtscp (Linux stores node << 12 | cpu) */
};

struct bulwark_vvar {
    u32 seq;            /*  0: seqcount, odd while the Sentry writes */
    u32 mode;           /*  4: VVAR_MODE_* */
    u64 tsc_base;       /*  8: TSC value at which mono_base_ns was true */
    u64 mult;           /* 16: ns = mono_base_ns + (((tsc - tsc_base) * mult) >> shift), 128-bit product */
    u32 shift;          /* 24 */
    u32 coarse_res_ns;  /* 28: resolution of the *_COARSE clocks (the host's clock_getres) */
    u64 mono_base_ns;   /* 32: CLOCK_MONOTONIC at tsc_base, in ns */
    s64 real_offset_ns; /* 40: CLOCK_REALTIME - CLOCK_MONOTONIC */
    s64 boot_offset_ns; /* 48: CLOCK_BOOTTIME - CLOCK_MONOTONIC */
    s64 tai_offset_ns;  /* 56: CLOCK_TAI - CLOCK_REALTIME */
    u32 getcpu_mode;    /* 64: VVAR_GETCPU_* */
    s32 tz_minuteswest; /* 68: what gettimeofday reports in struct timezone */
    s32 tz_dsttime;     /* 72 */
    u32 reserved;       /* 76 */
};

#define VVAR_CHECK(field, off) _Static_assert(__builtin_offsetof(struct bulwark_vvar, field) == off, #field)
VVAR_CHECK(seq, 0); VVAR_CHECK(mode, 4); VVAR_CHECK(tsc_base, 8); VVAR_CHECK(mult, 16);
VVAR_CHECK(shift, 24); VVAR_CHECK(coarse_res_ns, 28); VVAR_CHECK(mono_base_ns, 32);
VVAR_CHECK(real_offset_ns, 40); VVAR_CHECK(boot_offset_ns, 48); VVAR_CHECK(tai_offset_ns, 56);
VVAR_CHECK(getcpu_mode, 64); VVAR_CHECK(tz_minuteswest, 68); VVAR_CHECK(tz_dsttime, 72);
_Static_assert(sizeof(struct bulwark_vvar) == 80, "vvar size");

#endif
