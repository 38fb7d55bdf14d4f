// Syscall patching (systrap, BULWARK_SYSTRAP_PATCH=1): exact `mov $nr,%eax; syscall` sites called
// many times, so the Sentry rewrites them after the first traps, must behave as natively: results,
// a leaf function's red zone, callee-saved/argument/SSE/AVX registers and flags across the call,
// several threads on one site while it is patched, a signal handler run right after a patched call
// (and its sigreturn), fork after patching (the child uses the patched site) and exec.
// Output is deterministic (no pids), compared with a native run.
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

// Each site is one exact 7-byte pattern (b8 imm32 0f 05).
long site_getpid(void);
long site_gettid_threads(void);
long site_write(long fd, const void *buf, long n);
long site_kill(long pid, long sig);
long site_read(long fd, void *buf, long n);
long site_read_xor(long fd, void *buf, long n);
int redzone_leaf(long v);
struct probe { unsigned long flags, rbx, rbp, r12, r13, r14, r15, rdx, rsi, r8, r9, r10, rdi; unsigned char x0[16], x15[16], y1[32]; };
void regs_probe(struct probe *o, int avx);
__asm__(
    ".text\n"
    ".globl site_getpid\n site_getpid:\n"
    "    mov $39, %eax\n    syscall\n    ret\n"
    ".globl site_gettid_threads\n site_gettid_threads:\n"   // first called by the threads: patched while they run
    "    mov $186, %eax\n    syscall\n    ret\n"
    ".globl site_write\n site_write:\n"
    "    mov $1, %eax\n    syscall\n    ret\n"
    ".globl site_read\n site_read:\n"
    "    mov $0, %eax\n    syscall\n    ret\n"
    // glibc's read: xor %eax,%eax; syscall; cmp $-4096,%rax; ja; ret; NOP padding (patched through it).
    ".p2align 4\n"
    ".globl site_read_xor\n site_read_xor:\n"
    "    nop\n nop\n nop\n nop\n nop\n nop\n"
    "    xor %eax, %eax\n    syscall\n    cmp $-4096, %rax\n    ja 4f\n    ret\n"
    ".p2align 4\n"
    "4:  ret\n"
    ".globl site_kill\n site_kill:\n"
    "    mov $62, %eax\n    syscall\n    ret\n"
    // A leaf function keeping live data in its red zone across the call: 1 if it survived.
    ".globl redzone_leaf\n redzone_leaf:\n"
    "    mov %rdi, -8(%rsp)\n    mov %rdi, -64(%rsp)\n    mov %rdi, %rsi\n    not %rsi\n    mov %rsi, -128(%rsp)\n"
    "    mov $39, %eax\n    syscall\n"
    "    xor %eax, %eax\n"
    "    cmp -8(%rsp), %rdi\n    jne 1f\n    cmp -64(%rsp), %rdi\n    jne 1f\n"
    "    not %rdi\n    cmp -128(%rsp), %rdi\n    jne 1f\n    mov $1, %eax\n"
    "1:  ret\n"
    // Registers and flags across a getpid: callee-saved, argument registers, xmm0/xmm15, ymm1, CF/DF.
    ".globl regs_probe\n regs_probe:\n"
    "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n push %rdi\n push %rsi\n"
    "    movabs $0x1111111111111111, %rbx\n movabs $0x2222222222222222, %rbp\n"
    "    movabs $0x3333333333333333, %r12\n movabs $0x4444444444444444, %r13\n"
    "    movabs $0x5555555555555555, %r14\n movabs $0x6666666666666666, %r15\n"
    "    movabs $0x7777777777777777, %rdx\n movabs $0x0123456789abcdef, %r8\n"
    "    movabs $0x0fedcba987654321, %r9\n movabs $0x0badc0ffee0ddf00, %r10\n"
    "    movq %rbx, %xmm0\n pinsrq $1, %rbp, %xmm0\n movq %r12, %xmm15\n pinsrq $1, %r13, %xmm15\n"
    "    test %esi, %esi\n jz 2f\n"
    "    vmovq %r14, %xmm2\n vpinsrq $1, %r15, %xmm2, %xmm2\n vinserti128 $1, %xmm2, %ymm0, %ymm1\n"
    "2:  movabs $0x1234, %rsi\n mov $0x5678, %edi\n"
    "    stc\n"
    "    mov $39, %eax\n    syscall\n"
    "    pushfq\n pop %rax\n"
    "    mov 8(%rsp), %rcx\n"   // o
    "    mov %rax, 0(%rcx)\n mov %rbx, 8(%rcx)\n mov %rbp, 16(%rcx)\n mov %r12, 24(%rcx)\n mov %r13, 32(%rcx)\n"
    "    mov %r14, 40(%rcx)\n mov %r15, 48(%rcx)\n mov %rdx, 56(%rcx)\n mov %rsi, 64(%rcx)\n mov %r8, 72(%rcx)\n"
    "    mov %r9, 80(%rcx)\n mov %r10, 88(%rcx)\n mov %rdi, 96(%rcx)\n"
    "    movdqu %xmm0, 104(%rcx)\n movdqu %xmm15, 120(%rcx)\n"
    "    mov (%rsp), %rsi\n test %esi, %esi\n jz 3f\n vmovdqu %ymm1, 136(%rcx)\n vzeroupper\n"
    "3:  pop %rsi\n pop %rdi\n pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret\n");

static int check_hot(int n) {
    long pid = getpid();
    for (int i = 0; i < n; i++)
        if (site_getpid() != pid) return 0;
    return 1;
}

static int check_pipe(int n) {
    int p[2];
    if (pipe(p) != 0) return -1;
    long total = 0;
    char buf[64];
    for (int i = 0; i < n; i++) {
        char c = 'a' + i % 26;
        if (site_write(p[1], &c, 1) != 1) return -2;
        if (read(p[0], buf, 1) != 1 || buf[0] != c) return -3;
        total++;
    }
    if (site_write(-1, "x", 1) != -9) return -4;   // EBADF through the patched site
    close(p[0]); close(p[1]);
    return (int)total;
}

static void print_probe(const char *what, int avx) {
    struct probe first, o;
    memset(&first, 0, sizeof first);
    int same = 1;
    for (int i = 0; i < 20; i++) {
        memset(&o, 0, sizeof o);
        regs_probe(&o, avx);
        if (i == 0) first = o; else if (memcmp(&o, &first, sizeof o) != 0) same = 0;
    }
    printf("%s: same every call %d flags %#lx rbx %#lx rbp %#lx r12 %#lx r13 %#lx r14 %#lx r15 %#lx\n", what, same,
           first.flags & 0xcd5, first.rbx, first.rbp, first.r12, first.r13, first.r14, first.r15);
    printf("%s: rdx %#lx rsi %#lx rdi %#lx r8 %#lx r9 %#lx r10 %#lx\n", what, first.rdx, first.rsi, first.rdi, first.r8, first.r9, first.r10);
    unsigned long x[4];
    memcpy(x, first.x0, 16); printf("%s: xmm0 %#lx %#lx", what, x[0], x[1]);
    memcpy(x, first.x15, 16); printf(" xmm15 %#lx %#lx", x[0], x[1]);
    if (avx) { memcpy(x, first.y1, 32); printf(" ymm1 %#lx %#lx %#lx %#lx", x[0], x[1], x[2], x[3]); }
    printf("\n");
}

static long thread_bad;
static void *hammer(void *arg) {
    long pid = (long)arg, bad = 0, tid = gettid();
    for (int i = 0; i < 3000; i++) if (site_getpid() != pid || site_gettid_threads() != tid) bad++;
    __atomic_add_fetch(&thread_bad, bad, __ATOMIC_RELAXED);
    return NULL;
}

static volatile int handled;
static volatile long handler_pid_ok;
static void on_usr1(int sig) {
    (void)sig;
    handled++;
    if (site_getpid() == getpid()) handler_pid_ok++;
}

static volatile int alarms;
static void on_alrm(int sig) { (void)sig; alarms++; }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && strcmp(argv[1], "exec-child") == 0) {
        printf("exec child: hot %d\n", check_hot(500));
        return 0;
    }
    printf("hot getpid: %d\n", check_hot(5000));
    printf("pipe writes: %d\n", check_pipe(2000));
    {
        int q[2], ok = 1;
        pipe(q);
        for (int i = 0; i < 2000; i++) {
            char c = 'A' + i % 26, d = 0;
            write(q[1], &c, 1);
            if (site_read_xor(q[0], &d, 1) != 1 || d != c) ok = 0;
        }
        if (site_read_xor(-1, &ok, 1) != -9) ok = 0;   // EBADF: the error branch after the patched call
        printf("xor-form reads: %d\n", ok);
        close(q[0]); close(q[1]);
    }
    int rz = 1;
    for (long i = 0; i < 2000; i++) rz &= redzone_leaf(0x5a5a0000 + i);
    printf("red zone kept: %d\n", rz);
    print_probe("sse", 0);
    if (__builtin_cpu_supports("avx2")) print_probe("avx", 1); else print_probe("avx", 0);

    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, hammer, (void *)(long)getpid());
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    printf("threads: bad results %ld\n", thread_bad);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    int rzs = 1;
    for (int i = 0; i < 300; i++) {
        if (site_kill(getpid(), SIGUSR1) != 0) printf("kill failed\n");
        rzs &= redzone_leaf(i);
    }
    printf("signals: handled %d, handler getpid ok %ld, red zone kept %d\n", handled, handler_pid_ok, rzs);

    // A blocking read through a patched site, interrupted by a handler: restarted (SA_RESTART; the
    // restart address is 2 bytes before the return address, inside the patched jump) and not.
    int rp[2];
    pipe(rp);
    char ch = 0;
    for (int i = 0; i < 5; i++) { write(rp[1], "w", 1); site_read(rp[0], &ch, 1); }
    for (int i = 0; i < 5; i++) { write(rp[1], "v", 1); site_read_xor(rp[0], &ch, 1); }
    long (*readers[2])(long, void *, long) = { site_read, site_read_xor };
    for (int form = 0; form < 2; form++)
    for (int restart = 1; restart >= 0; restart--) {
        struct sigaction al;
        memset(&al, 0, sizeof al);
        al.sa_handler = on_alrm;
        al.sa_flags = restart ? SA_RESTART : 0;
        sigaction(SIGALRM, &al, NULL);
        alarms = 0;
        fflush(stdout);
        pid_t w = fork();
        if (w == 0) { usleep(300000); write(rp[1], "z", 1); _exit(0); }
        struct itimerval it = { { 0, 0 }, { 0, 50000 } };
        setitimer(ITIMER_REAL, &it, NULL);
        ch = 0;
        long r = readers[form](rp[0], &ch, 1);
        printf("%s read with%s SA_RESTART: r=%ld c=%c alarms=%d\n", form ? "xor-form" : "mov-form", restart ? "" : "out", r, r == 1 ? ch : '-', alarms);
        waitpid(w, NULL, 0);
        if (r != 1) readers[form](rp[0], &ch, 1);   // the child's byte
    }

    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        int p[2];
        pipe(p);
        int ok = check_hot(2000) && site_write(p[1], "y", 1) == 1;
        _exit(ok ? 7 : 1);
    }
    int st = 0;
    waitpid(c, &st, 0);
    printf("fork child: exit %d; parent after fork hot %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1, check_hot(1000));

    fflush(stdout);
    c = fork();
    if (c == 0) {
        execl("/proc/self/exe", argv[0], "exec-child", (char *)NULL);
        _exit(99);
    }
    waitpid(c, &st, 0);
    printf("exec: exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    return 0;
}
