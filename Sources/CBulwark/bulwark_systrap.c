// The systrap platform's stub code. It is compiled into the Sentry but runs only inside stub
// processes: bw_systrap_install copies the section `bw_systrap_text` into the stub page, so this code
// must be position independent and self-contained: no libc, no calls out of the section, no data
// outside it (the mailbox is at a fixed address), no stack protector (%fs holds the application's TLS
// base while it runs), no `switch` (jump tables live in .rodata). tools/check-systrap-code (objdump)
// checks the built object for references that leave the section.
//
// Flow: the stub installs a seccomp filter that answers SECCOMP_RET_TRAP for every system call not
// issued from the stub's code range. The kernel then delivers SIGSYS; the handler (on the
// stub's own signal stack) copies the registers into the mailbox, posts an event, wakes the Sentry's
// task thread through a shared futex and waits for commands: run queued mmap/munmap/mprotect calls,
// read or write the FXSAVE area of the frame, and finally "resume", which writes the Sentry's register
// set into the signal frame; rt_sigreturn then continues the application with it.
#define _GNU_SOURCE
#include "bulwark_systrap.h"
#include "bulwark_ptrace.h"
#include <sched.h>
#include <signal.h>
#include <time.h>
#include <string.h>
#include <linux/futex.h>
#include <unistd.h>

#define SECTION __attribute__((section("bw_systrap_text"), used, noinline, no_stack_protector))
#define INLINE static inline __attribute__((always_inline))
#define MB ((struct bw_systrap_mailbox *)BW_SYSTRAP_MAILBOX)
#define STR(x) #x
#define XSTR(x) STR(x)
#define BW_SYSTRAP_BOUNCE_OFFSET_NUM 0x2808
_Static_assert(BW_SYSTRAP_BOUNCE_OFFSET == BW_SYSTRAP_BOUNCE_OFFSET_NUM, "bounce offset");
_Static_assert(__builtin_offsetof(struct bw_systrap_mailbox, patch_kicked) == BW_MB_OFF_PATCH_KICKED, "patch_kicked offset");
_Static_assert(__builtin_offsetof(struct bw_systrap_mailbox, bounce) == BW_MB_OFF_BOUNCE, "bounce offset");

// SAFETY: raw system call; every pointer argument points into the stub's own mapped pages.
INLINE long sc6(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

// A byte copy the compiler cannot turn into a call to memcpy.
INLINE void copy_bytes(void *dst, const void *src, unsigned long n) {
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}
INLINE void zero_bytes(void *dst, unsigned long n) {
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(0) : "memory");
}

SECTION static void run_ops(struct bw_systrap_mailbox *mb) {
    uint32_t n = mb->nops;
    if (n > BW_MB_MAX_OPS) n = BW_MB_MAX_OPS;
    for (uint32_t i = 0; i < n; i++) {
        struct bw_systrap_op *op = &mb->ops[i];
        long r = -22;
        // Only memory-map calls; the filter would kill the stub for anything else anyway.
        if (op->nr == 9 || op->nr == 10 || op->nr == 11)
            r = sc6((long)op->nr, (long)op->args[0], (long)op->args[1], (long)op->args[2],
                    (long)op->args[3], (long)op->args[4], (long)op->args[5]);
        op->result = r;
        if (r < 0 && r > -4096 && mb->failed_op == 0) mb->failed_op = r;
    }
    mb->nops = 0;
}

INLINE uint64_t rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

SECTION static void set_fp(struct bw_systrap_mailbox *mb, unsigned char *fpstate) {
    if (!fpstate) return;
    copy_bytes(fpstate, mb->fp, 512);
    // XSAVE frame (FP_XSTATE_MAGIC1 in the software-reserved bytes): mark x87 and SSE state as present
    // in the header's xstate_bv, or XRSTOR would ignore the new values.
    if (*(uint32_t *)(fpstate + 464) == 0x46505853U) *(uint64_t *)(fpstate + 512) |= 3;
}

// Posts the event in the mailbox and waits for the next command (spin within the budget the Sentry
// set, then FUTEX_WAIT). Returns with state == COMMAND.
SECTION static void post_and_wait(struct bw_systrap_mailbox *mb) {
    // Post the event; wake the task thread only if it sleeps (a spinning one sees the store).
    // Sequentially consistent store and load on both sides (Dekker): no lost wake-up.
    // Statistics (BULWARK_SYSTRAP_STATS): the stub's own clock from post to command.
    uint32_t stats_tpu = mb->stub_stats_tpu;
    uint64_t posted = stats_tpu ? rdtsc() : 0;
    int slept = 0;
    __atomic_store_n(&mb->state, BW_MB_EVENT, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&mb->sentry_sleeping, __ATOMIC_SEQ_CST))
        sc6(202 /* futex */, (long)&mb->state, FUTEX_WAKE, 1, 0, 0, 0);
    // Spin for the command (only when the task thread runs on another CPU: the Sentry sets the
    // budget), then sleep. A wake-up without a command (the Sentry woke a parked stub early,
    // bw_systrap_unpark) spins again: the command is on its way.
    while (__atomic_load_n(&mb->state, __ATOMIC_ACQUIRE) != BW_MB_COMMAND) {
        uint64_t budget = mb->stub_spin;
        uint32_t sleeping = 1;
        if (budget) {
            // Preemption-aware: a big TSC jump between two iterations means this stub was descheduled
            // (on the 2-vCPU VM: the client wanted this CPU). Spinning on would burn the CPU it just got
            // back, so it sleeps at once (stub_sleeping = 2 tells the Sentry it was not a plain miss).
            uint64_t preempt = mb->stub_preempt;
            uint64_t t0 = rdtsc(), prev = t0;
            for (;;) {
                if (__atomic_load_n(&mb->state, __ATOMIC_ACQUIRE) == BW_MB_COMMAND) break;
                if (__atomic_load_n(&mb->stub_park, __ATOMIC_RELAXED)) break;
                uint64_t t = rdtsc();
                if (t - t0 >= budget) break;
                if (preempt && t - prev > preempt) {
                    sleeping = 2;
                    mb->stub_preempted++;
                    break;
                }
                prev = t;
                __builtin_ia32_pause();
            }
            if (__atomic_load_n(&mb->state, __ATOMIC_ACQUIRE) == BW_MB_COMMAND) break;
        }
        __atomic_store_n(&mb->stub_sleeping, sleeping, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&mb->state, __ATOMIC_SEQ_CST) == BW_MB_EVENT) {
            slept = 1;
            sc6(202, (long)&mb->state, FUTEX_WAIT, BW_MB_EVENT, 0, 0, 0);
        }
        __atomic_store_n(&mb->stub_sleeping, 0, __ATOMIC_RELAXED);
    }
    if (stats_tpu) {
        // Buckets <1 1 2 4 8 16+ us of spinning, then "slept" (a park, or the budget ran out).
        uint64_t us = (rdtsc() - posted) / stats_tpu;
        unsigned b = 0;
        while (us && b < 5) { us >>= 1; b++; }
        mb->stub_waits[slept ? 6 : b]++;
    }
}

// Applies fs/gs base changes the Sentry made (arch_prctl, clone's TLS).
SECTION static void apply_bases(struct bw_systrap_mailbox *mb, struct user_regs_struct *r) {
    if (r->fs_base != mb->fs_base) {
        if (sc6(158 /* arch_prctl */, 0x1002 /* ARCH_SET_FS */, (long)r->fs_base, 0, 0, 0, 0) == 0)
            mb->fs_base = r->fs_base;
    }
    if (r->gs_base != mb->gs_base) {
        if (sc6(158, 0x1001 /* ARCH_SET_GS */, (long)r->gs_base, 0, 0, 0, 0) == 0)
            mb->gs_base = r->gs_base;
    }
}

// Writes the Sentry's register set into the signal frame's sigcontext.
SECTION static void regs_to_frame(struct user_regs_struct *r, unsigned long *g) {
    g[0] = r->r8; g[1] = r->r9; g[2] = r->r10; g[3] = r->r11;
    g[4] = r->r12; g[5] = r->r13; g[6] = r->r14; g[7] = r->r15;
    g[8] = r->rdi; g[9] = r->rsi; g[10] = r->rbp; g[11] = r->rbx;
    g[12] = r->rdx; g[13] = r->rax; g[14] = r->rcx; g[15] = r->rsp;
    g[16] = r->rip; g[17] = r->eflags;
}

// The handler for SIGSYS (system calls), faults and the kick signal. All signals are blocked while
// it runs, so it never nests; it may interrupt the patched path (bw_patch_c), which runs with
// signals open.
SECTION void bw_systrap_handler(int sig, siginfo_t *si, void *ucv) {
    struct bw_systrap_mailbox *mb = MB;
    // ucontext: uc_flags, uc_link, uc_stack (24 bytes), then the sigcontext (gregs) at +40.
    unsigned long *g = (unsigned long *)((char *)ucv + 40);
    unsigned char *fpstate = (unsigned char *)g[23];
    struct user_regs_struct *r = &mb->regs;
    uint32_t kind = BW_EV_FAULT;
    unsigned long nr = ~0UL;
    unsigned long rip = g[16];
    if (sig == BW_SYSTRAP_KICK_SIGNAL && rip - mb->patch_lo < mb->patch_hi - mb->patch_lo) {
        // The kick interrupted the patched path. Before its restoring tail, a system call is in
        // progress: the Sentry gets its event anyway; the flag makes the tail report the kick.
        // Inside the tail the application is logically back at the return address with `regs`.
        if (rip - mb->tail_lo >= mb->tail_hi - mb->tail_lo) {
            __atomic_store_n(&mb->patch_kicked, 1, __ATOMIC_SEQ_CST);
            return;
        }
        regs_to_frame(r, g);
        kind = BW_EV_KICK;
    } else if (sig == SIGSYS && rip == mb->bounce_rip && mb->bounce) {
        // The patched path bounced: the register set posted with the RESUME is not a plain return
        // (signal delivery, sigreturn, exec, a pending FP state), so load it through this frame.
        uint32_t b = mb->bounce;
        mb->bounce = 0;
        // A kick that came after the patched path's last check (on its way to this trap).
        if (__atomic_exchange_n(&mb->patch_kicked, 0, __ATOMIC_SEQ_CST)) b = 2;
        if (mb->fp_pending) {
            mb->fp_pending = 0;
            set_fp(mb, fpstate);
        }
        regs_to_frame(r, g);
        apply_bases(mb, r);
        if (b == 1) {
            mb->fp_saved = 0;
            __atomic_store_n(&mb->state, BW_MB_RUNNING, __ATOMIC_RELEASE);
            return;
        }
        kind = BW_EV_KICK;   // a kick arrived during the patched call: report it now
    } else if (sig == SIGSYS) {
        kind = BW_EV_SYSCALL;
        nr = (unsigned long)(long)*(int *)((char *)si + 24);    // si_syscall
    } else if (sig == BW_SYSTRAP_KICK_SIGNAL) {
        kind = BW_EV_KICK;
    }
    mb->signo = sig;
    mb->code = *(int *)((char *)si + 8);
    mb->fault_addr = *(unsigned long *)((char *)si + 16);
    r->r8 = g[0]; r->r9 = g[1]; r->r10 = g[2]; r->r11 = g[3];
    r->r12 = g[4]; r->r13 = g[5]; r->r14 = g[6]; r->r15 = g[7];
    r->rdi = g[8]; r->rsi = g[9]; r->rbp = g[10]; r->rbx = g[11];
    r->rdx = g[12]; r->rax = g[13]; r->rcx = g[14]; r->rsp = g[15];
    r->rip = g[16]; r->eflags = g[17];
    r->cs = g[18] & 0xffff; r->ss = (g[18] >> 48) & 0xffff;
    r->orig_rax = nr;
    r->fs_base = mb->fs_base; r->gs_base = mb->gs_base;
    r->ds = 0; r->es = 0; r->fs = 0; r->gs = 0;
    mb->kind = kind;
    if (mb->patch_path) mb->patch_path = 0;
    // The FXSAVE area too (512 bytes the kernel just wrote, so in cache): a signal delivery or a fork
    // then needs no GETFP round trip. A pending SETFP (never the case on entry) would be newer.
    if (!mb->fp_pending) {
        if (fpstate) copy_bytes(mb->fp, fpstate, 512); else zero_bytes(mb->fp, 512);
    }
    mb->fp_saved = 1;
    for (;;) {
        post_and_wait(mb);
        uint32_t cmd = mb->cmd;
        if (cmd == BW_CMD_RESUME || cmd == BW_CMD_OPS) run_ops(mb);
        if (cmd == BW_CMD_RESUME && mb->fp_pending) {
            // A deferred SETFP (exec, a fresh or reused stub): load it on the way out.
            mb->fp_pending = 0;
            set_fp(mb, fpstate);
        }
        if (cmd == BW_CMD_RESUME) {
            regs_to_frame(r, g);
            apply_bases(mb, r);
            mb->fp_saved = 0;
            __atomic_store_n(&mb->state, BW_MB_RUNNING, __ATOMIC_RELEASE);
            return;   // rt_sigreturn (our restorer) loads the frame
        }
        if (cmd == BW_CMD_GETFP) {
            if (fpstate) copy_bytes(mb->fp, fpstate, 512); else zero_bytes(mb->fp, 512);
        } else if (cmd == BW_CMD_SETFP) {
            set_fp(mb, fpstate);
        }
        mb->kind = BW_EV_DONE;
    }
}

// A 64-bit store the compiler cannot merge into an SSE store: the patched path must leave the
// application's SSE/AVX registers alone (it has no signal frame to restore them from).
INLINE void st64(unsigned long long *p, unsigned long long v) { __asm__ volatile("movq %1, %0" : "=m"(*p) : "r"(v)); }
INLINE unsigned long long ld64(const unsigned long long *p) { unsigned long long v; __asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*p)); return v; }

// The patched path (see bw_patch_entry below): `f` is the register block the entry pushed on the
// stub's stack, laid out as the first 15 words of user_regs_struct (r15 ... rdi), then rflags and the
// application's rsp. rax holds the system call number, rcx the return address (as after `syscall`).
// Posts the event as the SIGSYS handler would present it and serves commands; returns 0 to return to
// the application through the tail (`f` rewritten), 1 to bounce (the register set is not a plain
// return). No SSE/AVX instruction may appear here: tools/check-systrap-code and the objdump check in
// docs (section "Platform: syscall patching") cover it.
SECTION static long bw_patch_c(unsigned long long *f) {
    struct bw_systrap_mailbox *mb = MB;
    struct user_regs_struct *r = &mb->regs;
    copy_bytes(r, f, 15 * 8);                 // r15 ... rdi
    unsigned long long ret = ld64(&f[11]);    // rcx
    unsigned long long flags = ld64(&f[15]);
    st64(&r->orig_rax, ld64(&f[10]));         // rax = the number
    st64(&r->rax, (unsigned long long)-38);             // -ENOSYS, as at a seccomp trap
    st64(&r->r11, flags);
    st64(&r->rip, ret);
    st64(&r->eflags, flags);
    st64(&r->rsp, ld64(&f[16]));
    // Words that rarely change are written only when they do (their cache lines stay shared).
    if (ld64(&r->fs_base) != mb->fs_base) st64(&r->fs_base, mb->fs_base);
    if (ld64(&r->gs_base) != mb->gs_base) st64(&r->gs_base, mb->gs_base);
    mb->signo = SIGSYS;
    mb->code = 1;   // SYS_SECCOMP
    mb->fault_addr = 0;
    mb->kind = BW_EV_SYSCALL;
    if (mb->patch_path != 1) mb->patch_path = 1;
    mb->fp_saved = 0;
    for (;;) {
        post_and_wait(mb);
        uint32_t cmd = mb->cmd;
        if (cmd == BW_CMD_RESUME || cmd == BW_CMD_OPS) run_ops(mb);
        if (cmd == BW_CMD_RESUME) {
            unsigned long long rip = ld64(&r->rip);
            unsigned long long fl = ld64(&r->eflags);
            if (!mb->fp_pending && rip == ret && ld64(&r->rcx) == rip && ld64(&r->r11) == fl) {
                apply_bases(mb, r);
                copy_bytes(f, r, 15 * 8);
                st64(&f[15], fl);
                st64(&f[16], ld64(&r->rsp));
                __atomic_store_n(&mb->state, BW_MB_RUNNING, __ATOMIC_SEQ_CST);
                return 0;
            }
            __atomic_store_n(&mb->bounce, 1, __ATOMIC_SEQ_CST);
            return 1;
        }
        if (cmd == BW_CMD_GETFP || cmd == BW_CMD_SETFP) {
            // The live FP state is the application's (nothing here touches it).
            unsigned char buf[512 + 16];
            unsigned char *a = (unsigned char *)(((unsigned long)buf + 15) & ~15UL);
            if (cmd == BW_CMD_GETFP) {
                __asm__ volatile("fxsave64 %0" : "=m"(*(unsigned char (*)[512])a));
                copy_bytes(mb->fp, a, 512);
            } else {
                copy_bytes(a, mb->fp, 512);
                __asm__ volatile("fxrstor64 %0" : : "m"(*(unsigned char (*)[512])a));
            }
        }
        mb->kind = BW_EV_DONE;
    }
}

// The set-up routine, run once on the stub's signal stack after the entry below mapped the mailbox.
SECTION static void systrap_init_c(void) {
    struct bw_systrap_mailbox *mb = MB;
    long err = 0;
    for (uint32_t i = 0; i < mb->init_nsignals && i < 8; i++) {
        long r = sc6(13 /* rt_sigaction */, mb->init_signals[i], (long)mb->init_actions[i], 0, 8, 0, 0);
        if (r < 0 && err == 0) err = r;
    }
    for (long s = 1; s < 64; s++) {
        if (mb->init_ignore_mask & (1UL << (s - 1))) sc6(13, s, (long)mb->init_ignore, 0, 8, 0, 0);
    }
    unsigned long ss[3];
    ss[0] = BW_SYSTRAP_MAILBOX + 0x1000; ss[1] = 0; ss[2] = BW_SYSTRAP_STACK_SIZE;
    long r = sc6(131 /* sigaltstack */, (long)ss, 0, 0, 0, 0, 0);
    if (r < 0 && err == 0) err = r;
    r = sc6(157 /* prctl */, 38 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0, 0);
    if (r < 0 && err == 0) err = r;
    unsigned long prog[2];
    prog[0] = mb->init_filter_len; prog[1] = (unsigned long)mb->init_filter;
    r = sc6(317 /* seccomp */, 1 /* SECCOMP_SET_MODE_FILTER */, 0, (long)prog, 0, 0, 0);
    if (r < 0 && err == 0) err = r;
    mb->failed_op = err;
}

// The ptrace platform's batch routine: run the mailbox's queued ops, then stop on int3.
SECTION static void batch_c(void) { run_ops(MB); }

// Entry (rdi = memory file fd, rsi = offset of this stub's mailbox region): map the mailbox and the
// signal stack, switch to that stack, set up, then jump to the boot trap outside the allowed range.
__asm__(
    ".pushsection bw_systrap_text,\"ax\",@progbits\n"
    ".globl bw_systrap_init_entry\n"
    "bw_systrap_init_entry:\n"
    "    mov %rdi, %r8\n"
    "    mov %rsi, %r9\n"
    "    movabs $0x700000010000, %rdi\n"
    "    mov $0x11000, %esi\n"
    "    mov $3, %edx\n"
    "    mov $0x11, %r10d\n"
    "    mov $9, %eax\n"
    "    syscall\n"
    "    cmp %rdi, %rax\n"
    "    jne 1f\n"
    "    movabs $0x700000021000, %rsp\n"
    "    call systrap_init_c\n"
    "    movabs $0x700000002800, %rax\n"
    "    jmp *%rax\n"
    "1:  int3\n"
    "    jmp 1b\n"
    ".globl bw_systrap_batch_entry\n"
    "bw_systrap_batch_entry:\n"
    "    call batch_c\n"
    "2:  int3\n"
    "    jmp 2b\n"
    // The patched path's entry, reached from a per-site thunk (SyscallPatch.swift): eax = number, rcx =
    // return address, r11 = scratch, rsp and rflags are the application's. Only flag-preserving
    // instructions until pushfq.
    ".globl bw_patch_entry\n"
    "bw_patch_entry:\n"
    "    mov %rsp, %r11\n"
    "    movabs $0x700000021000, %rsp\n"
    "    push %r11\n"
    "    pushfq\n"
    "    push %rdi\n push %rsi\n push %rdx\n push %rcx\n push %rax\n"
    "    push %r8\n push %r9\n push %r10\n push %r11\n push %rbx\n push %rbp\n"
    "    push %r12\n push %r13\n push %r14\n push %r15\n"
    "    cld\n"
    "    mov %rsp, %rdi\n"
    "    sub $8, %rsp\n"
    "    call bw_patch_c\n"
    "    add $8, %rsp\n"
    "    test %eax, %eax\n"
    "    jnz .Lbw_bounce\n"
    // The tail: a kick from here on sees the application at the return address (the handler
    // reports it from `regs`); a kick before it set patch_kicked, checked first.
    ".Lbw_tail_lo:\n"
    "    movabs $(0x700000010000 + " XSTR(BW_MB_OFF_PATCH_KICKED) "), %rax\n"
    "    cmpl $0, (%rax)\n"
    "    jne .Lbw_kicked\n"
    "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n pop %r11\n"
    "    pop %r10\n pop %r9\n pop %r8\n pop %rax\n pop %rcx\n pop %rdx\n pop %rsi\n pop %rdi\n"
    "    popfq\n"
    "    pop %rsp\n"
    "    jmp *%rcx\n"
    ".Lbw_tail_hi:\n"
    ".Lbw_kicked:\n"
    "    movl $0, (%rax)\n"
    "    movabs $(0x700000010000 + " XSTR(BW_MB_OFF_BOUNCE) "), %rax\n"
    "    movl $2, (%rax)\n"
    ".Lbw_bounce:\n"
    "    movabs $(0x700000000000 + " XSTR(BW_SYSTRAP_BOUNCE_OFFSET_NUM) "), %rax\n"
    "    jmp *%rax\n"
    ".globl bw_patch_tail_lo\n"
    "bw_patch_tail_lo = .Lbw_tail_lo\n"
    ".globl bw_patch_tail_hi\n"
    "bw_patch_tail_hi = .Lbw_tail_hi\n"
    ".globl bw_systrap_restorer\n"
    "bw_systrap_restorer:\n"
    "    mov $15, %eax\n"
    "    syscall\n"
    "    int3\n"
    ".popsection\n");

extern const unsigned char __start_bw_systrap_text[];
extern const unsigned char __stop_bw_systrap_text[];
extern const unsigned char bw_systrap_init_entry[];
extern const unsigned char bw_systrap_restorer[];

unsigned long bw_systrap_init_offset(void) {
    return BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_systrap_init_entry - __start_bw_systrap_text);
}
unsigned long bw_systrap_handler_offset(void) {
    return BW_SYSTRAP_CODE_OFFSET + (unsigned long)((const unsigned char *)bw_systrap_handler - __start_bw_systrap_text);
}
extern const unsigned char bw_systrap_batch_entry[];
unsigned long bw_systrap_batch_offset(void) {
    return BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_systrap_batch_entry - __start_bw_systrap_text);
}
extern const unsigned char bw_patch_entry[];
extern const unsigned char bw_patch_tail_lo[];
extern const unsigned char bw_patch_tail_hi[];
unsigned long bw_systrap_patch_entry_offset(void) {
    return BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_patch_entry - __start_bw_systrap_text);
}
unsigned long bw_systrap_restorer_offset(void) {
    return BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_systrap_restorer - __start_bw_systrap_text);
}

int bw_systrap_install(unsigned char *page, unsigned long page_size) {
    unsigned long n = (unsigned long)(__stop_bw_systrap_text - __start_bw_systrap_text);
    // The code must lie below the limit (the only range the filter lets system calls through from).
    if (BW_SYSTRAP_CODE_OFFSET + n > BW_SYSTRAP_CODE_LIMIT || page_size < BW_SYSTRAP_BOOT_OFFSET + 16) return -1;
    memcpy(page + BW_SYSTRAP_CODE_OFFSET, __start_bw_systrap_text, n);
    unsigned char *b = page + BW_SYSTRAP_BOOT_OFFSET;
    b[0] = 0xb8; b[1] = 39; b[2] = 0; b[3] = 0; b[4] = 0;   // mov eax, 39 (any number: it traps)
    b[5] = 0x0f; b[6] = 0x05;                               // syscall
    b[7] = 0xcc;                                            // int3
    unsigned char *bb = page + BW_SYSTRAP_BOUNCE_OFFSET;    // the patched path's bounce trap
    bb[0] = 0x0f; bb[1] = 0x05; bb[2] = 0xcc;
    return 0;
}

static uint64_t bpf(uint16_t code, uint8_t jt, uint8_t jf, uint32_t k) {
    return (uint64_t)code | ((uint64_t)jt << 16) | ((uint64_t)jf << 24) | ((uint64_t)k << 32);
}

void bw_systrap_prepare(struct bw_systrap_mailbox *mb) {
    const uint64_t handler = BW_STUB_ADDR + bw_systrap_handler_offset();
    const uint64_t restorer = BW_STUB_ADDR + bw_systrap_restorer_offset();
    const int sigs[] = { SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, BW_SYSTRAP_KICK_SIGNAL };
    mb->init_nsignals = 0;
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        mb->init_signals[i] = (uint32_t)sigs[i];
        mb->init_actions[i][0] = handler;
        mb->init_actions[i][1] = SA_SIGINFO | SA_ONSTACK | 0x04000000 /* SA_RESTORER */;
        mb->init_actions[i][2] = restorer;
        mb->init_actions[i][3] = ~0ULL;   // block everything while the handler runs
        mb->init_nsignals++;
    }
    mb->init_ignore[0] = 1;   // SIG_IGN
    mb->init_ignore[1] = 0x04000000;
    mb->init_ignore[2] = restorer;
    mb->init_ignore[3] = 0;
    // Terminal and job-control signals aimed at the Sentry's process group must not stop or kill a
    // stub (the ptrace platform swallows them in the tracer); the Sentry forwards what matters.
    const int ign[] = { SIGHUP, SIGINT, SIGQUIT, SIGPIPE, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP,
                        SIGTTIN, SIGTTOU, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGWINCH, SIGURG, SIGCHLD };
    mb->init_ignore_mask = 0;
    for (unsigned i = 0; i < sizeof ign / sizeof ign[0]; i++) mb->init_ignore_mask |= 1ULL << (ign[i] - 1);
    // seccomp filter: non-x86-64 calls kill; calls from outside the stub code range trap; the stub's
    // own calls are limited to what it needs.
    const uint16_t LD = 0x20, JEQ = 0x15, JGE = 0x35, RET = 0x06;
    const uint32_t KILL = 0x80000000U, TRAP = 0x00030000U, ALLOW = 0x7fff0000U;
    uint64_t *f = mb->init_filter;
    f[0] = bpf(LD, 0, 0, 4);                                   // arch
    f[1] = bpf(JEQ, 1, 0, 0xc000003eU);                        // AUDIT_ARCH_X86_64
    f[2] = bpf(RET, 0, 0, KILL);
    f[3] = bpf(LD, 0, 0, 12);                                  // instruction pointer, high half
    f[4] = bpf(JEQ, 0, 11, (uint32_t)(BW_STUB_ADDR >> 32));    // else -> 16 (trap)
    f[5] = bpf(LD, 0, 0, 8);                                   // low half
    f[6] = bpf(JGE, 9, 0, (uint32_t)(BW_STUB_ADDR + BW_SYSTRAP_CODE_LIMIT));    // -> 16 (trap)
    f[7] = bpf(LD, 0, 0, 0);                                   // nr
    const uint32_t allowed[] = { 15, 202, 9, 10, 11, 158, 24 };   // sigreturn futex mmap mprotect munmap arch_prctl sched_yield
    for (int i = 0; i < 7; i++) f[8 + i] = bpf(JEQ, (uint8_t)(16 - (8 + i)), 0, allowed[i]);   // -> 17
    f[15] = bpf(RET, 0, 0, KILL);
    f[16] = bpf(RET, 0, 0, TRAP);
    f[17] = bpf(RET, 0, 0, ALLOW);
    mb->init_filter_len = 18;
    mb->failed_op = 0;
    mb->nops = 0;
    mb->fs_base = 0;
    mb->gs_base = 0;
    mb->sentry_sleeping = 0;
    mb->stub_sleeping = 0;
    mb->stub_spin = 0;
    mb->fp_pending = 0;
    mb->stub_preempt = 0;
    mb->stub_preempted = 0;
    mb->stub_park = 0;
    mb->fp_saved = 0;
    mb->event_tsc = 0;
    mb->patch_path = 0;
    mb->patch_kicked = 0;
    mb->bounce = 0;
    mb->patch_lo = BW_STUB_ADDR + BW_SYSTRAP_CODE_OFFSET;
    mb->patch_hi = BW_STUB_ADDR + BW_SYSTRAP_CODE_LIMIT;
    mb->tail_lo = BW_STUB_ADDR + BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_patch_tail_lo - __start_bw_systrap_text);
    mb->tail_hi = BW_STUB_ADDR + BW_SYSTRAP_CODE_OFFSET + (unsigned long)(bw_patch_tail_hi - __start_bw_systrap_text);
    mb->bounce_rip = BW_STUB_ADDR + BW_SYSTRAP_BOUNCE_OFFSET + 2;
    __atomic_store_n(&mb->state, BW_MB_RUNNING, __ATOMIC_RELEASE);
}

// ---- Sentry side -------------------------------------------------------------------------------

static int stub_dead(long pid) {
    siginfo_t info;
    memset(&info, 0, sizeof info);
    if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return errno == ECHILD;
    return info.si_pid == pid;
}

static inline uint64_t host_rdtsc(void) {
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

// Sleeps until the stub posts an event (state EVENT), checking every 100 ms that it lives.
static int sleep_for_event(struct bw_systrap_mailbox *mb, long pid, long timeout_ms) {
    long waited = 0;
    for (;;) {
        uint32_t s = __atomic_load_n(&mb->state, __ATOMIC_ACQUIRE);
        if (s == BW_MB_EVENT) return 0;
        __atomic_store_n(&mb->sentry_sleeping, 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&mb->state, __ATOMIC_SEQ_CST) != s) {
            __atomic_store_n(&mb->sentry_sleeping, 0, __ATOMIC_RELAXED);
            continue;
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        long r = syscall(SYS_futex, &mb->state, FUTEX_WAIT, s, &ts, 0, 0);
        int e = errno;
        __atomic_store_n(&mb->sentry_sleeping, 0, __ATOMIC_RELAXED);
        if (r != 0 && e == ETIMEDOUT) {
            if (stub_dead(pid)) return -1;
            waited += 100;
            if (timeout_ms >= 0 && waited >= timeout_ms) return -1;
        }
    }
}

int bw_systrap_wait_event(struct bw_systrap_mailbox *mb, long pid, long timeout_ms) {
    int r = sleep_for_event(mb, pid, timeout_ms);
    mb->event_tsc = host_rdtsc();
    return r;
}

uint64_t bw_systrap_rdtsc(void) { return host_rdtsc(); }

static uint64_t preempt_ticks = 0;
static uint64_t spin_preempted = 0;
void bw_systrap_set_preempt_ticks(uint64_t ticks) { preempt_ticks = ticks; }
uint64_t bw_spin_preempted_count(void) { return __atomic_load_n(&spin_preempted, __ATOMIC_RELAXED); }

// Writes the netstack's doorbell eventfd (see bw_systrap_call).
static void write_doorbell(int fd) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
}

int bw_systrap_call(struct bw_systrap_mailbox *mb, uint32_t cmd, long pid, uint64_t spin_ticks,
                    uint64_t parked_spin_ticks, int then_write_fd, uint64_t kick_deadline) {
    int flags = 0;
    mb->cmd = cmd;
    // Parked on purpose (the task blocked): its sleep says nothing about the load.
    uint32_t parked = __atomic_load_n(&mb->stub_park, __ATOMIC_RELAXED);
    if (parked) {
        __atomic_store_n(&mb->stub_park, 0, __ATOMIC_RELAXED);
        flags |= BW_HANDOFF_PARKED;
        // The parked stub must wake up first (a cross-CPU wake-up: 8-32 us here), so the task
        // thread's spin would mostly burn its CPU.
        spin_ticks = parked_spin_ticks;
    }
    __atomic_store_n(&mb->state, BW_MB_COMMAND, __ATOMIC_SEQ_CST);
    uint32_t stub_slept = __atomic_load_n(&mb->stub_sleeping, __ATOMIC_SEQ_CST);
    if (stub_slept) {
        syscall(SYS_futex, &mb->state, FUTEX_WAKE, 1, 0, 0, 0);
        // Asleep although the command came within its spin budget: it was not running (load). A stub
        // that gave up its spin after a preemption says so (2): reported apart.
        if (stub_slept == 2) flags |= BW_HANDOFF_STUB_PREEMPTED;
        else if (!parked && mb->stub_spin && host_rdtsc() - mb->event_tsc < mb->stub_spin) flags |= BW_HANDOFF_STUB_SLEPT;
    }
    // A doorbell the Sentry owes (an eventfd write that wakes the netstack: several us here) goes out
    // now that the stub has its command, instead of before it while the stub spun. With a deadline
    // it waits while this thread spins for the next event: if the application's next system call
    // comes first, it stays due (BW_HANDOFF_KICK_DUE), so a burst of calls (a server writing replies
    // to many clients) is not cut by the netstack preempting this thread on its CPU.
    if (then_write_fd >= 0 && (!kick_deadline || !spin_ticks)) {
        write_doorbell(then_write_fd);
        then_write_fd = -1;
    }
    if (spin_ticks) {
        uint64_t t0 = host_rdtsc(), t = t0, prev = t0, preempt = preempt_ticks;
        for (;;) {
            if (__atomic_load_n(&mb->state, __ATOMIC_ACQUIRE) == BW_MB_EVENT) {
                mb->event_tsc = t;
                if (then_write_fd >= 0) flags |= BW_HANDOFF_KICK_DUE;
                return flags;
            }
            if (then_write_fd >= 0 && t >= kick_deadline) {
                write_doorbell(then_write_fd);
                then_write_fd = -1;
                t = host_rdtsc();
                prev = t;
                continue;
            }
            if (t - t0 >= spin_ticks) { flags |= BW_HANDOFF_SLEPT; break; }
            // Descheduled in the spin (another thread needed this CPU): sleep now.
            if (preempt && t - prev > preempt) { flags |= BW_HANDOFF_PREEMPTED; break; }
            prev = t;
            __builtin_ia32_pause();
            t = host_rdtsc();
        }
    }
    if (then_write_fd >= 0) write_doorbell(then_write_fd);   // never sleep with it due
    if (sleep_for_event(mb, pid, -1) != 0) return -1;
    mb->event_tsc = host_rdtsc();
    return flags;
}

void bw_systrap_store_regs(struct bw_systrap_mailbox *mb, const struct user_regs_struct *r) {
    uint64_t *d = (uint64_t *)&mb->regs;
    const uint64_t *src = (const uint64_t *)r;
    for (unsigned i = 0; i < sizeof(struct user_regs_struct) / 8; i++)
        if (d[i] != src[i]) d[i] = src[i];
}

int bw_spin_while_equal(const uint32_t *w, uint32_t seen, uint64_t ticks) {
    uint64_t t0 = host_rdtsc(), prev = t0, preempt = preempt_ticks;
    for (;;) {
        if (__atomic_load_n(w, __ATOMIC_ACQUIRE) != seen) return 1;
        __builtin_ia32_pause();
        uint64_t t = host_rdtsc();
        if (t - t0 >= ticks) break;
        if (preempt && t - prev > preempt) {
            __atomic_fetch_add(&spin_preempted, 1, __ATOMIC_RELAXED);
            break;
        }
        prev = t;
    }
    return __atomic_load_n(w, __ATOMIC_ACQUIRE) != seen;
}

int bw_systrap_unpark(struct bw_systrap_mailbox *mb) {
    if (!__atomic_load_n(&mb->stub_park, __ATOMIC_RELAXED)) return 0;
    __atomic_store_n(&mb->stub_park, 0, __ATOMIC_SEQ_CST);
    // Its sleep was on purpose and it is woken before the command: not a sign of load.
    mb->event_tsc = 0;
    if (__atomic_load_n(&mb->stub_sleeping, __ATOMIC_SEQ_CST))
        syscall(SYS_futex, &mb->state, FUTEX_WAKE, 1, 0, 0, 0);
    return 1;
}

uint64_t bw_systrap_tsc_per_us(void) {
    static uint64_t cached = 0;
    if (cached) return cached;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    uint64_t t0 = host_rdtsc();
    long ns;
    do {
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns = (b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec);
    } while (ns < 2000000);
    uint64_t t1 = host_rdtsc();
    uint64_t r = (t1 - t0) * 1000 / (uint64_t)ns;
    cached = r ? r : 1;
    return cached;
}

int bw_allowed_cpus(int *out, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof set, &set) != 0) return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set)) out[n++] = c;
    return n;
}

// The mailbox shares its page with nothing, but must fit in it (the signal stack follows).
_Static_assert(sizeof(struct bw_systrap_mailbox) <= 4096, "the systrap mailbox must fit in one page");
