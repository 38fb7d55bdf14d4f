// The CPU's time-stamp counter, for the Sentry's vDSO timekeeping (SentryVDSO.VDSOTimekeeper).
// Why C: Swift has no inline assembly.
#ifndef BULWARK_TSC_H
#define BULWARK_TSC_H
#include <stdint.h>

/// rdtsc after lfence, so the read is not hoisted above earlier loads (the vDSO reads it the same way).
static inline uint64_t bw_rdtsc_ordered(void) {
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
    return ((uint64_t)hi << 32) | lo;
}

/// The pause instruction, for spin loops (eases the sibling hyperthread and the loop's exit).
static inline void bw_cpu_relax(void) { __builtin_ia32_pause(); }

/// rdtscp's IA32_TSC_AUX value: Linux stores (numa node << 12) | cpu there.
static inline uint32_t bw_rdtscp_aux(void) {
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    (void)lo; (void)hi;
    return aux;
}
/// CPUID leaf 7, ECX bit 4 (OSPKE): the kernel turned memory protection keys on (CR4.PKE). Linux prints
/// smaps' "ProtectionKey:" line only then (arch_pkeys_enabled()).
static inline int bw_cpu_ospke(void) {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0));
    if (a < 7) return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(7), "c"(0));
    return (c >> 4) & 1;
}
#endif
