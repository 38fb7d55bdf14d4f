// Platform edge cases: registers (general, SSE, x87, TLS base) survive system calls and signals; a
// busy loop without system calls is interrupted by a timer signal; a jump into the stub's code page
// (the address range the systrap seccomp filter trusts) never runs a host system call.
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/time.h>

static volatile sig_atomic_t ticks = 0;
static void on_alarm(int sig) { (void)sig; ticks++; }
static __thread long tls_value = 42;

int main(int argc, char **argv) {
    // 1. SSE and x87 values live in registers across many trapped calls.
    double a = 1.0;
    long double x = 3.0L;
    for (int i = 0; i < 2000; i++) {
        a = a * 1.0001 + 0.5;
        x = x * 0.999L + 1.0L;
        syscall(SYS_getppid);
    }
    printf("fp %.6f %.6Lf\n", a, x);

    // 2. Callee-saved registers across a raw syscall (compiler keeps values in rbx, r12-r15).
    long r12 = 0x1234, r15 = 0x5678, rax;
    __asm__ volatile("mov %2, %%r12\n mov %3, %%r15\n mov $39, %%eax\n syscall\n mov %%r12, %0\n mov %%r15, %1\n"
                     : "=r"(r12), "=r"(r15) : "r"(r12 + 1), "r"(r15 + 1) : "rax", "rcx", "r11", "r12", "r15", "memory");
    (void)rax;
    printf("regs %lx %lx\n", r12, r15);

    // 3. TLS (fs base) intact.
    tls_value += 1;
    syscall(SYS_getpid);
    printf("tls %ld\n", tls_value);

    // 4. A loop without system calls is interrupted by ITIMER_REAL.
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, 0);
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_REAL, &it, 0);
    volatile unsigned long spin = 0;
    while (ticks < 3) spin++;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, 0);
    printf("ticks %d\n", ticks >= 3);
    fflush(stdout);

    // 5. (argument "trampoline") Jump to the stub page's `syscall; int3` (0x700000000000) with
    //    getpid: the sandbox must either emulate it (then the int3 kills the program with SIGTRAP) or
    //    kill the stub (systrap's filter allows only a few calls from there); never a host getpid.
    if (argc > 1 && strcmp(argv[1], "trampoline") == 0) {
        long r;
        __asm__ volatile("movabs $0x700000000000, %%rdx\n mov $39, %%eax\n call *%%rdx\n"
                         : "=a"(r) : : "rcx", "rdx", "r11", "memory");
        printf("trampoline getpid %ld\n", r);
    }
    return 0;
}
