/* Bulwark's vDSO: clock_gettime, gettimeofday, time, clock_getres and getcpu without entering the Sentry.
 * Freestanding C (no libc): built by tools/gen-vdso into a shared object whose bytes the Sentry maps into
 * every application at AT_SYSINFO_EHDR. Time comes from the vvar page (vvar.h) the Sentry keeps current;
 * what this file cannot answer goes to a real `syscall` instruction, which the Sentry intercepts.
 * Return values follow the kernel's vDSO: 0 or a negative errno, as from the raw system call. */
#include "vvar.h"

/* The vvar page sits one page below the first byte of this image (see vdso.lds). Hidden, so the reference
 * is a PC-relative address fixed at link time, with no dynamic relocation. */
extern const volatile struct bulwark_vvar bulwark_vvar __attribute__((visibility("hidden")));

struct kernel_timespec { s64 tv_sec; long tv_nsec; };
struct kernel_timeval { long tv_sec; long tv_usec; };
struct kernel_timezone { int tz_minuteswest; int tz_dsttime; };

enum { NR_gettimeofday = 96, NR_time = 201, NR_clock_gettime = 228, NR_clock_getres = 229, NR_getcpu = 309 };
enum {
    CLOCK_REALTIME = 0, CLOCK_MONOTONIC = 1, CLOCK_REALTIME_COARSE = 5, CLOCK_MONOTONIC_COARSE = 6,
    CLOCK_BOOTTIME = 7, CLOCK_TAI = 11,
};
/* The clocks answered here; MONOTONIC_RAW, the CPU-time clocks and unknown ids take the syscall. */
#define HANDLED_CLOCKS ((1u << CLOCK_REALTIME) | (1u << CLOCK_MONOTONIC) | (1u << CLOCK_REALTIME_COARSE) | \
                        (1u << CLOCK_MONOTONIC_COARSE) | (1u << CLOCK_BOOTTIME) | (1u << CLOCK_TAI))
#define COARSE_CLOCKS ((1u << CLOCK_REALTIME_COARSE) | (1u << CLOCK_MONOTONIC_COARSE))
#define NSEC_PER_SEC 1000000000LL
/* A writer that stays odd this long has died mid-update: stop spinning and ask the Sentry. */
#define MAX_SEQ_TRIES 1000

static inline long raw_syscall2(long nr, long a, long b) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b) : "rcx", "r11", "memory");
    return ret;
}

static inline long raw_syscall3(long nr, long a, long b, long c) {
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return ret;
}

#define barrier() __asm__ volatile("" ::: "memory")

/* lfence keeps rdtsc from executing before the earlier loads of the seqcount (as the kernel's
 * rdtsc_ordered does). */
static inline u64 rdtsc_ordered(void) {
    u32 lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((u64)hi << 32) | lo;
}

/* Stores the time of `clock` in ns into *out and returns 1, or returns 0 when the vvar says to use the
 * syscall. x86 keeps loads in order and the Sentry's stores in order, so compiler barriers around the
 * volatile reads are all the seqlock needs. */
static int clock_ns(u32 clock, s64 *out) {
    const volatile struct bulwark_vvar *v = &bulwark_vvar;
    for (int tries = 0; tries < MAX_SEQ_TRIES; tries++) {
        u32 seq = v->seq;
        barrier();
        if (seq & 1) { __asm__ volatile("pause"); continue; }
        if (v->mode != VVAR_MODE_TSC) return 0;
        u64 tsc = rdtsc_ordered();
        u64 base = v->tsc_base, mult = v->mult;
        u32 shift = v->shift;
        s64 ns = (s64)v->mono_base_ns;
        s64 real = v->real_offset_ns, boot = v->boot_offset_ns, tai = v->tai_offset_ns;
        u32 res = v->coarse_res_ns;
        barrier();
        if (v->seq != seq) continue;
        /* A TSC read just behind tsc_base (another CPU, or racing an update) counts as no time passed. */
        u64 delta = (s64)(tsc - base) > 0 ? tsc - base : 0;
        ns += (s64)(((unsigned __int128)delta * mult) >> shift);
        switch (clock) {
        case CLOCK_REALTIME: case CLOCK_REALTIME_COARSE: ns += real; break;
        case CLOCK_BOOTTIME: ns += boot; break;
        case CLOCK_TAI: ns += real + tai; break;
        default: break;
        }
        if (((1u << clock) & COARSE_CLOCKS) && res > 1) ns -= ns % res;
        *out = ns;
        return 1;
    }
    return 0;
}

static inline int handled(long clock) { return clock >= 0 && clock < 32 && ((HANDLED_CLOCKS >> clock) & 1); }

int __vdso_clock_gettime(long clock, struct kernel_timespec *ts) {
    s64 ns;
    if (handled(clock)) {
        if (clock_ns((u32)clock, &ns)) {
            ts->tv_sec = ns / NSEC_PER_SEC;
            ts->tv_nsec = ns % NSEC_PER_SEC;
            return 0;
        }
    }
    return (int)raw_syscall2(NR_clock_gettime, clock, (long)ts);
}

int __vdso_gettimeofday(struct kernel_timeval *tv, struct kernel_timezone *tz) {
    s64 ns;
    if (!clock_ns(CLOCK_REALTIME, &ns)) return (int)raw_syscall2(NR_gettimeofday, (long)tv, (long)tz);
    if (tv) {
        tv->tv_sec = ns / NSEC_PER_SEC;
        tv->tv_usec = (ns % NSEC_PER_SEC) / 1000;
    }
    if (tz) {
        tz->tz_minuteswest = bulwark_vvar.tz_minuteswest;
        tz->tz_dsttime = bulwark_vvar.tz_dsttime;
    }
    return 0;
}

long __vdso_time(long *t) {
    s64 ns;
    if (!clock_ns(CLOCK_REALTIME, &ns)) return raw_syscall2(NR_time, (long)t, 0);
    long secs = ns / NSEC_PER_SEC;
    if (t) *t = secs;
    return secs;
}

int __vdso_clock_getres(long clock, struct kernel_timespec *res) {
    if (!handled(clock) || bulwark_vvar.mode != VVAR_MODE_TSC)
        return (int)raw_syscall2(NR_clock_getres, clock, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = ((1u << clock) & COARSE_CLOCKS) ? bulwark_vvar.coarse_res_ns : 1;
    }
    return 0;
}

int __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused_cache) {
    if (bulwark_vvar.getcpu_mode != VVAR_GETCPU_RDTSCP)
        return (int)raw_syscall3(NR_getcpu, (long)cpu, (long)node, (long)unused_cache);
    u32 lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    (void)lo; (void)hi;
    if (cpu) *cpu = aux & 0xfff;
    if (node) *node = aux >> 12;
    return 0;
}

/* The unprefixed names, as the kernel's vDSO exports them. */
int clock_gettime(long, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct kernel_timeval *, struct kernel_timezone *) __attribute__((weak, alias("__vdso_gettimeofday")));
long time(long *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(long, struct kernel_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
int getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
