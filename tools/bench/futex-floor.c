/* futex-floor: the host's hand-off floor for a syscall round trip between two processes, measured in
 * the same run as the microbench so the sandbox figures can be read against the machine's load.
 *   futex_same   two processes pinned to one CPU, FUTEX_WAKE + FUTEX_WAIT each way (two context switches)
 *   futex_cross  the same on two CPUs (a cross-CPU wake-up each way)
 *   spin_cross   two CPUs, each side spins on the shared word (no system call; the best case of a
 *                spinning hand-off, bounded: a side that spins too long falls back to the futex)
 * Prints "<case> <round trips> <ns per round trip>" like microbench.
 * Build: cc -O2 -o futex-floor futex-floor.c                                                      */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu) {
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    sched_setaffinity(0, sizeof s, &s);
}

/* w[0]: 0 = the child's turn, 1 = the parent's turn. w[1 + want]: the side waiting for `want` sleeps in
 * FUTEX_WAIT (the poster then wakes it; a spinning waiter costs the poster no system call). */
static void wait_for(volatile uint32_t *w, uint32_t want, long spins) {
    for (long i = 0; i < spins; i++) {
        if (__atomic_load_n(&w[0], __ATOMIC_ACQUIRE) == want) return;
        __builtin_ia32_pause();
    }
    uint32_t v;
    while ((v = __atomic_load_n(&w[0], __ATOMIC_SEQ_CST)) != want) {
        __atomic_store_n(&w[1 + want], 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&w[0], __ATOMIC_SEQ_CST) == v)
            syscall(SYS_futex, &w[0], FUTEX_WAIT, v, NULL, NULL, 0);
        __atomic_store_n(&w[1 + want], 0, __ATOMIC_SEQ_CST);
    }
}

static void post(volatile uint32_t *w, uint32_t v) {
    __atomic_store_n(&w[0], v, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&w[1 + v], __ATOMIC_SEQ_CST)) syscall(SYS_futex, &w[0], FUTEX_WAKE, 1, NULL, NULL, 0);
}

static double run(int cpu_parent, int cpu_child, long spins, long n) {
    volatile uint32_t *w = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (w == MAP_FAILED) return -1;
    w[0] = 1;
    w[1] = 0;
    w[2] = 0;
    pid_t pid = fork();
    if (pid == 0) {
        pin(cpu_child);
        for (long i = 0; i < n; i++) {
            wait_for(w, 0, spins);
            post(w, 1);
        }
        _exit(0);
    }
    pin(cpu_parent);
    usleep(1000);
    uint64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        post(w, 0);
        wait_for(w, 1, spins);
    }
    uint64_t t1 = now_ns();
    waitpid(pid, NULL, 0);
    munmap((void *)w, 4096);
    return (double)(t1 - t0) / (double)n;
}

int main(void) {
    double scale = getenv("MICROBENCH_SCALE") ? atof(getenv("MICROBENCH_SCALE")) : 1.0;
    long n = (long)(20000 * scale);
    if (n < 100) n = 100;
    int two = sysconf(_SC_NPROCESSORS_ONLN) > 1;
    printf("futex_same %ld %.1f\n", n, run(0, 0, 0, n));
    if (two) {
        printf("futex_cross %ld %.1f\n", n, run(0, 1, 0, n));
        /* ~20k pause iterations is tens of microseconds: a side descheduled by load falls back to the futex. */
        printf("spin_cross %ld %.1f\n", n, run(0, 1, 20000, n));
    }
    fflush(stdout);
    return 0;
}
