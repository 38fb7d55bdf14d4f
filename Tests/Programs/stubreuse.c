// Host processes reused across sandboxed processes (the stub pool recycles a finished task's stub):
// many short fork+exec+exit cycles all work, and a process never sees state its stub had from an
// earlier one: a forked child's SSE control word (MXCSR) and x87 control word are the parent's, not
// those a previous child left behind, and memory the previous child mapped is gone.
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static uint32_t get_mxcsr(void) { uint32_t v; __asm__ volatile("stmxcsr %0" : "=m"(v)); return v; }
static void set_mxcsr(uint32_t v) { __asm__ volatile("ldmxcsr %0" : : "m"(v)); }
static uint16_t get_fcw(void) { uint16_t v; __asm__ volatile("fnstcw %0" : "=m"(v)); return v; }
static void set_fcw(uint16_t v) { __asm__ volatile("fldcw %0" : : "m"(v)); }

#define PROBE ((volatile char *)0x5a5a0000000UL)

static int run(void (*child)(void)) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) { child(); _exit(0); }
    int st;
    if (waitpid(p, &st, 0) != p) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void dirty(void) {
    set_mxcsr(0x7f80 | 0x6000);   // round toward zero, all exceptions masked
    set_fcw(0x0c7f);              // x87: round toward zero
    // Leave a mapping behind at a fixed address.
    char *m = mmap((void *)PROBE, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (m != MAP_FAILED) m[0] = 7;
}

static sigjmp_buf fault_jump;
static void on_segv(int sig) { (void)sig; siglongjmp(fault_jump, 1); }

static void report(void) {
    // The probe address is not mapped in this process: reading it must fault (a stub that kept the
    // previous process's host mapping would let the read through).
    signal(SIGSEGV, on_segv);
    int mapped = 0;
    if (sigsetjmp(fault_jump, 1) == 0) { mapped = PROBE[0] == 7 ? 2 : 1; }
    printf("child mxcsr %#x fcw %#x probe %s\n", get_mxcsr() & 0xffc0, get_fcw(), mapped ? "mapped" : "unmapped");
    fflush(stdout);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "exit3") == 0) return 3;
    for (int i = 0; i < 3; i++) {
        if (run(dirty) != 0) { printf("dirty child failed\n"); return 1; }
        if (run(report) != 0) { printf("report child failed\n"); return 1; }
    }
    int ok = 0;
    for (int i = 0; i < 40; i++) {
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            char *args[] = { argv[0], "exit3", NULL };
            execv("/proc/self/exe", args);
            _exit(127);
        }
        int st;
        if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) == 3) ok++;
    }
    printf("fork+exec %d of 40\n", ok);
    return 0;
}
