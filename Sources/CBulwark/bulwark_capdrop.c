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

static uint64_t capdrop_keep;
static atomic_int capdrop_armed;
static atomic_int capdrop_done;
static atomic_int capdrop_error;

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
    atomic_fetch_add(&capdrop_done, 1);
    errno = saved;
}

int bw_capdrop_all_threads(uint64_t keep, int timeout_ms, int *threads) {
    *threads = 0;
    capdrop_keep = keep;
    atomic_store(&capdrop_done, 0);
    atomic_store(&capdrop_error, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = capdrop_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(bw_capdrop_signal(), &sa, NULL) != 0) return errno;
    atomic_store(&capdrop_armed, 1);
    // The signal must not be blocked in any thread: nothing in the Sentry blocks it (only the
    // forwarded signals are), so each thread runs the handler at its next return to user space.
    DIR *d = opendir("/proc/self/task");
    if (!d) { atomic_store(&capdrop_armed, 0); return errno; }
    pid_t me = (pid_t)syscall(SYS_gettid), pid = getpid();
    int sent = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        pid_t tid = (pid_t)atoi(e->d_name);
        if (tid <= 0 || tid == me) continue;
        if (syscall(SYS_tgkill, pid, tid, bw_capdrop_signal()) == 0) sent++;   // ESRCH: it has exited
    }
    closedir(d);
    int err = capdrop_apply();
    // Bounded wait for every signalled thread (each answers at its next return to user space).
    for (int waited = 0; atomic_load(&capdrop_done) < sent; waited++) {
        if (waited >= timeout_ms) { atomic_store(&capdrop_armed, 0); return ETIMEDOUT; }
        struct timespec ts = { 0, 1000000 };
        nanosleep(&ts, NULL);
    }
    atomic_store(&capdrop_armed, 0);
    *threads = sent + 1;
    if (err == 0) err = atomic_load(&capdrop_error);
    return err;
}
