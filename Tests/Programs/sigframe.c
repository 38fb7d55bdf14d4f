// What a SA_SIGINFO handler finds in its frame: siginfo fields (kill, tgkill/raise, SIGILL with
// si_addr), ucontext uc_flags (UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS), cs/ss in the sigcontext,
// uc_sigmask (the mask to restore), uc_stack for a handler on the alternate stack, and sigreturn
// honouring registers the handler changed (skipping a ud2 through REG_RIP).
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

static unsigned short read_ss(void) { unsigned short v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
static unsigned short read_cs(void) { unsigned short v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }

static char altstack[65536];
static volatile int done;

static void on_usr(int sig, siginfo_t *si, void *ucp) {
    ucontext_t *uc = ucp;
    unsigned short *segs = (unsigned short *)&uc->uc_mcontext.gregs[REG_CSGSFS];
    int on_alt = (char *)&sig >= altstack && (char *)&sig < altstack + sizeof altstack;
    printf("%s: code %d pid ok %d uc_flags&6 %d cs ok %d ss ok %d TERM in uc_sigmask %d on alt %d",
           sig == SIGUSR1 ? "USR1" : "USR2", si->si_code, si->si_pid == getpid(), (int)(uc->uc_flags & 6),
           segs[0] == read_cs(), segs[3] == read_ss(), sigismember(&uc->uc_sigmask, SIGTERM), on_alt);
    if (on_alt) printf(" uc_stack flags %d sp ok %d size ok %d", uc->uc_stack.ss_flags, uc->uc_stack.ss_sp == altstack,
                       uc->uc_stack.ss_size == sizeof altstack);
    printf("\n");
    done++;
}

static void on_ill(int sig, siginfo_t *si, void *ucp) {
    ucontext_t *uc = ucp;
    printf("ILL: code %d addr matches rip %d\n", si->si_code, (uintptr_t)si->si_addr == (uintptr_t)uc->uc_mcontext.gregs[REG_RIP]);
    uc->uc_mcontext.gregs[REG_RIP] += 2;   // skip the ud2
    uc->uc_mcontext.gregs[REG_RBX] = 0x1234;   // and hand a value back through sigreturn
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    kill(getpid(), SIGUSR1);
    raise(SIGUSR1);

    // TERM blocked outside the handler shows up in uc_sigmask; handler on the alternate stack.
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, NULL);
    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    sigprocmask(SIG_BLOCK, &m, NULL);
    kill(getpid(), SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &m, NULL);

    sa.sa_sigaction = on_ill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    unsigned long rbx;
    __asm__ volatile("xor %%ebx, %%ebx\n\tud2\n\tmov %%rbx, %0" : "=r"(rbx) : : "rbx");
    printf("after ud2: rbx %#lx\n", rbx);
    printf("handlers ran: %d\n", done);
    return 0;
}
