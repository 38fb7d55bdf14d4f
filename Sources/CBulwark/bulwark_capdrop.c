// See bulwark_capdrop.h. The handler uses raw system calls only (async-signal-safe).
#define _GNU_SOURCE
#include "bulwark_capdrop.h"
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/futex.h>

static uint64_t capdrop_keep;
static atomic_int capdrop_armed;
static atomic_int capdrop_done;
static atomic_int capdrop_error;
// Threads whose own capget after the drop showed nothing beyond `keep` (so the caller need not read
// every thread's /proc status when all of them did).
static atomic_int capdrop_verified;

// Whether the calling thread's effective and permitted sets are within `keep` now, with no
// inheritable (hence no ambient) capability.
static int capdrop_check_self(void) {
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0) return 0;
    uint64_t eff = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
    uint64_t prm = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    // The ambient set is always within permitted and inheritable: an empty inheritable set means none.
    return (eff & ~capdrop_keep) == 0 && (prm & ~capdrop_keep) == 0 && data[0].inheritable == 0 && data[1].inheritable == 0;
}

int bw_capdrop_signal(void) { return SIGRTMAX - 1; }

void bw_capdrop_prepare(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, bw_capdrop_signal());
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

// Applies the drop to the calling thread; returns 0 or an errno value.
static int capdrop_apply(void) {
    int err = 0;
    // Bounding set first: dropping from it needs CAP_SETPCAP, which the capset below removes.
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (syscall(SYS_capget, &hdr, data) != 0) return errno;
    int has_setpcap = (data[0].effective >> CAP_SETPCAP) & 1;
    if (has_setpcap) {
        for (int c = 0; c < 64; c++) {
            long in = syscall(SYS_prctl, PR_CAPBSET_READ, c, 0, 0, 0);
            if (in < 0) break;   // EINVAL: past the kernel's last capability
            if (in == 1 && !((capdrop_keep >> c) & 1) && syscall(SYS_prctl, PR_CAPBSET_DROP, c, 0, 0, 0) != 0) err = errno;
        }
    }
    (void)syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);   // EINVAL before 4.3
    uint32_t keep_lo = (uint32_t)capdrop_keep, keep_hi = (uint32_t)(capdrop_keep >> 32);
    data[0].permitted &= keep_lo; data[1].permitted &= keep_hi;
    data[0].effective = data[0].permitted; data[1].effective = data[1].permitted;
    data[0].inheritable = 0; data[1].inheritable = 0;
    hdr.version = _LINUX_CAPABILITY_VERSION_3; hdr.pid = 0;
    if (syscall(SYS_capset, &hdr, data) != 0) err = errno;
    if (syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) err = errno;
    return err;
}

static void capdrop_handler(int sig) {
    (void)sig;
    if (!atomic_load(&capdrop_armed)) return;   // a stray signal after the broadcast: nothing to do
    int saved = errno;
    int e = capdrop_apply();
    if (e != 0) { int zero = 0; atomic_compare_exchange_strong(&capdrop_error, &zero, e); }
    if (e == 0 && capdrop_check_self()) atomic_fetch_add(&capdrop_verified, 1);
    atomic_fetch_add(&capdrop_done, 1);
    // Wakes the caller's futex wait on the counter (raw syscall: async-signal-safe).
    syscall(SYS_futex, &capdrop_done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    errno = saved;
}

// The threads of this process other than the caller, from /proc/self/task (at most `max`); -1 on error.
static int capdrop_list(pid_t me, pid_t *tids, int max) {
    DIR *d = opendir("/proc/self/task");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == me) continue;
        if (n < max) tids[n] = tid;
        n++;
    }
    closedir(d);
    return n;
}

#define CAPDROP_MAX_THREADS 256

int bw_capdrop_all_threads(uint64_t keep, int timeout_ms, int *threads, int *verified) {
    *threads = 0;
    *verified = 0;
    capdrop_keep = keep;
    atomic_store(&capdrop_done, 0);
    atomic_store(&capdrop_error, 0);
    atomic_store(&capdrop_verified, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = capdrop_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(bw_capdrop_signal(), &sa, NULL) != 0) return errno;
    atomic_store(&capdrop_armed, 1);
    // The signal must not be blocked in any thread: nothing in the Sentry blocks it (only the
    // forwarded signals are), so each thread runs the handler at its next return to user space.
    pid_t me = (pid_t)syscall(SYS_gettid), pid = getpid();
    pid_t listed[CAPDROP_MAX_THREADS], signalled[CAPDROP_MAX_THREADS];
    int count = capdrop_list(me, listed, CAPDROP_MAX_THREADS);
    if (count < 0) { int err = errno; atomic_store(&capdrop_armed, 0); return err; }
    int sent = 0, all = count <= CAPDROP_MAX_THREADS;
    for (int i = 0; i < count && i < CAPDROP_MAX_THREADS; i++) {
        if (syscall(SYS_tgkill, pid, listed[i], bw_capdrop_signal()) == 0) signalled[sent++] = listed[i];   // ESRCH: it has exited
        else all = 0;
    }
    int err = capdrop_apply();
    int selfOK = err == 0 && capdrop_check_self();
    // Bounded wait for every signalled thread (each answers at its next return to user space): a
    // futex wait on the counter, which each handler wakes.
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (;;) {
        int done = atomic_load(&capdrop_done);
        if (done >= sent) break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - start.tv_sec) * 1000L + (now.tv_nsec - start.tv_nsec) / 1000000L;
        if (elapsed >= timeout_ms) { atomic_store(&capdrop_armed, 0); return ETIMEDOUT; }
        struct timespec ts = { 0, 5000000 };   // re-check at least every 5 ms
        syscall(SYS_futex, &capdrop_done, FUTEX_WAIT_PRIVATE, done, &ts, NULL, 0);
    }
    atomic_store(&capdrop_armed, 0);
    *threads = sent + 1;
    if (err == 0) err = atomic_load(&capdrop_error);
    // Verified without /proc only if every thread checked itself and no thread appeared meanwhile
    // (a thread started by one that had not dropped yet would hold the full sets): the threads now
    // are exactly the ones signalled.
    if (err == 0 && all && selfOK && atomic_load(&capdrop_verified) == sent) {
        pid_t now[CAPDROP_MAX_THREADS];
        int n = capdrop_list(me, now, CAPDROP_MAX_THREADS);
        int same = n >= 0 && n <= sent;
        for (int i = 0; same && i < n; i++) {
            int found = 0;
            for (int j = 0; j < sent && !found; j++) found = now[i] == signalled[j];
            same = found;
        }
        *verified = same;
    }
    return err;
}
