// Atomics on memory shared between the Sentry and bulwark-netstack (the socket arena). Swift has no
// atomics on arbitrary addresses, so the ring indices and doorbell flags go through these.
#pragma once
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline uint64_t bw_arena_load64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE); }
static inline void bw_arena_store64(void *p, uint64_t v) { __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE); }
static inline uint32_t bw_arena_load32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE); }
static inline void bw_arena_store32(void *p, uint32_t v) { __atomic_store_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t bw_arena_add64(void *p, uint64_t v) { return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint32_t bw_arena_exchange32(void *p, uint32_t v) { return __atomic_exchange_n((uint32_t *)p, v, __ATOMIC_SEQ_CST); }
static inline uint64_t bw_arena_exchange64(void *p, uint64_t v) { return __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_SEQ_CST); }
/// Sets `bits` (sequentially consistent: a ring index stored before it is visible to whoever takes
/// the bits with bw_arena_exchange64; a plain load to skip a set bit would need a fence anyway).
static inline void bw_arena_or64(void *p, uint64_t bits) { (void)__atomic_fetch_or((uint64_t *)p, bits, __ATOMIC_SEQ_CST); }
/// A full barrier: orders a ring index store before a flag load (the two sides' Dekker-style checks).
static inline void bw_arena_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline int bw_arena_memfd(const char *name) { return (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */); }
// Declared here rather than through <malloc.h>, which would pull stdio's globals into this module.
extern int mallopt(int param, int value);
/// One malloc arena for the whole process (mallopt M_ARENA_MAX, which is -8).
static inline int bw_single_malloc_arena(void) { return mallopt(-8, 1); }
