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

/// rdtscp's IA32_TSC_AUX value: Linux stores (numa node << 12) | cpu there.
static inline uint32_t bw_rdtscp_aux(void) {
    uint32_t lo, hi, aux;
    __asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
    (void)lo; (void)hi;
    return aux;
}
#endif
