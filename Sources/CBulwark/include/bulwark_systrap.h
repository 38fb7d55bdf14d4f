// The systrap platform's shared definitions: the per-stub mailbox page (shared between the Sentry and
// one stub process through the memory file), the stub's reserved address range, and the Sentry-side
// futex helpers. The stub side (SIGSYS handler, init routine) is in bulwark_systrap.c.
#ifndef BULWARK_SYSTRAP_H
#define BULWARK_SYSTRAP_H
#include <stdint.h>
#include <sys/user.h>

/// The whole range reserved for platform pages in every application address space:
/// [BW_STUB_ADDR, BW_STUB_ADDR + BW_PLATFORM_RESERVED). The application can never map there.
#define BW_PLATFORM_RESERVED 0x100000UL
/// Mailbox page (shared, memory file) followed by the stub's signal stack (shared, memory file).
#define BW_SYSTRAP_MAILBOX 0x700000010000UL
#define BW_SYSTRAP_STACK_SIZE 0x10000UL
#define BW_SYSTRAP_REGION_SIZE (0x1000UL + BW_SYSTRAP_STACK_SIZE)
/// Offset of the systrap code inside the stub pages; the seccomp filter lets only system calls issued
/// from [BW_STUB_ADDR, BW_STUB_ADDR + BW_SYSTRAP_CODE_LIMIT) through (and only a few of them).
#define BW_SYSTRAP_CODE_OFFSET 0x200UL
#define BW_SYSTRAP_CODE_LIMIT 0x2800UL
/// A `syscall` instruction outside the allowed range: a new stub traps on it once set up ("boot").
#define BW_SYSTRAP_BOOT_OFFSET 0x2800UL
/// The host signal the Sentry sends to interrupt a stub running application code.
#define BW_SYSTRAP_KICK_SIGNAL 30   /* SIGPWR: nothing else sends it; not queued like RT signals */

/// Mailbox states (the futex word `state`).
enum {
    BW_MB_RUNNING = 0,   // the stub runs application code
    BW_MB_EVENT = 1,     // the stub posted an event (or a command's result) and waits for a command
    BW_MB_COMMAND = 2,   // the Sentry posted a command
};
/// Event kinds.
enum { BW_EV_SYSCALL = 1, BW_EV_FAULT = 2, BW_EV_KICK = 3, BW_EV_DONE = 4 };
/// Commands.
enum {
    BW_CMD_RESUME = 1,   // run the queued host ops, load `regs` (and fs/gs base), return to the application
    BW_CMD_OPS = 2,      // run the queued host ops, report BW_EV_DONE
    BW_CMD_GETFP = 3,    // copy the frame's FXSAVE area into `fp` (the stub already does at each event: fp_saved)
    BW_CMD_SETFP = 4,    // copy `fp` into the frame's FXSAVE area
};
#define BW_MB_MAX_OPS 40

/// One queued host memory operation (mmap/munmap/mprotect) the stub runs itself.
struct bw_systrap_op {
    uint64_t nr;
    uint64_t args[6];
    int64_t result;
};

/// The mailbox page. No alignment attributes (Swift drops such structs); it sits at a page boundary.
struct bw_systrap_mailbox {
    uint32_t state;
    uint32_t kind;          // event kind
    uint32_t cmd;           // command
    uint32_t nops;          // queued ops for RESUME/OPS
    int32_t signo;          // fault: host signal number
    int32_t code;           // fault: si_code
    uint64_t fault_addr;    // fault: si_addr
    uint64_t fs_base;       // current host fs base of the stub (it changes only through the stub)
    uint64_t gs_base;
    // Cache lines: everything a spinning side reads in its loop (state, stub_park) is in the first
    // 64 bytes, which the other side writes only to post; the Sentry-only and rarely written words
    // follow, then the registers (the Sentry writes back only the words it changed).
    uint32_t stub_park;         // the task blocked in the Sentry: stop spinning, sleep now
    uint32_t fp_saved;          // `fp` holds the frame's FXSAVE area (copied at every event; 0 after RESUME)
    // Hand-off (see bw_systrap_call): each side spins a bounded time before it sleeps in FUTEX_WAIT,
    // and says so here, so the other side makes the FUTEX_WAKE system call only for a sleeper.
    uint32_t sentry_sleeping;   // the task thread sleeps waiting for an event
    uint32_t stub_sleeping;     // the stub sleeps waiting for a command
    uint64_t stub_spin;         // TSC ticks the stub spins for a command before sleeping (0: never)
    uint32_t fp_pending;        // `fp` holds an FXSAVE area to load into the frame on RESUME
    // Preemption-aware spinning: a gap of more than this many TSC ticks between two iterations of the
    // stub's spin means it was descheduled (another thread wanted its CPU): it sleeps at once (0: off).
    uint32_t stub_preempt;
    int64_t failed_op;      // first failing op's result of the last batch (0 if none)
    uint64_t event_tsc;         // Sentry only: TSC when the last event arrived
    struct user_regs_struct regs;
    uint8_t fp[512];
    struct bw_systrap_op ops[BW_MB_MAX_OPS];
    // Set-up data read by the init routine.
    uint64_t init_actions[8][4];     // rt_sigaction structs for the trapped signals
    uint64_t init_ignore[4];         // rt_sigaction struct with SIG_IGN
    uint64_t init_ignore_mask;       // bit (n-1): set signal n to SIG_IGN
    uint32_t init_signals[8];
    uint32_t init_nsignals;
    uint32_t init_filter_len;
    uint64_t init_filter[32];        // struct sock_filter[] (8 bytes each)
    // Syscall patching (bulwark_systrap.c, SyscallPatch.swift): a patched site enters the stub's code directly.
    uint32_t patch_path;     // the current event came from a patched site (no signal frame: FP state is live)
    uint32_t patch_kicked;   // a kick arrived while the stub was inside the patched path
    uint32_t bounce;         // 1: the bounce trap applies `regs` and returns; 2: ... then posts a kick event
    uint32_t stub_preempted;   // stub-written count of spins it gave up after a preemption (statistics)
    uint64_t patch_lo, patch_hi;   // the stub's code range (a kick there interrupted the patched path)
    uint64_t tail_lo, tail_hi;     // the patched path's register-restoring tail
    uint64_t bounce_rip;           // the address after the bounce trap's `syscall`
    // Statistics, written by the stub when `stub_stats_tpu` (TSC ticks per us) is set: how long it
    // waited for each command, buckets <1 1 2 4 8 16+ us of spinning and one for "slept".
    uint32_t stub_stats_tpu;
    uint32_t stub_stats_pad;
    uint64_t stub_waits[7];
};
/// Offsets used by the patched path's assembly (checked against offsetof in bulwark_systrap.c).
#define BW_MB_OFF_PATCH_KICKED 3980
#define BW_MB_OFF_BOUNCE 3984
/// The bounce trap: a `syscall` outside the allowed range; its SIGSYS applies a pending register set.
#define BW_SYSTRAP_BOUNCE_OFFSET (BW_SYSTRAP_BOOT_OFFSET + 8)

/// Copies the systrap code into the stub page at BW_SYSTRAP_CODE_OFFSET and the boot trap; called by
/// bw_stub_install before the page is made executable. Returns 0, or -1 if the code does not fit.
int bw_systrap_install(unsigned char *page, unsigned long page_size);
/// 1 if bw_stub_install placed the systrap code in the stub page.
int bw_systrap_available(void);
/// Offsets (from BW_STUB_ADDR) of the stub's entry points.
unsigned long bw_systrap_init_offset(void);
unsigned long bw_systrap_handler_offset(void);
unsigned long bw_systrap_restorer_offset(void);
/// Offset of the patched path's common entry (rax = nr, rcx = return address, rsp = the application's).
unsigned long bw_systrap_patch_entry_offset(void);
/// The ptrace platform's batch routine (rsp = top of the mailbox region's stack): runs the mailbox's
/// queued ops and stops on int3.
unsigned long bw_systrap_batch_offset(void);
/// Fills the init part of a fresh mailbox (signal actions and the seccomp filter).
void bw_systrap_prepare(struct bw_systrap_mailbox *mb);

/// Sentry side: posts `cmd` and waits until the stub posts the next event, spinning up to `spin_ticks`
/// TSC ticks before sleeping. Returns -1 if the stub process `pid` died (checked every 100 ms while
/// waiting), else flags: BW_HANDOFF_SLEPT (this thread spun in vain and slept), BW_HANDOFF_STUB_SLEPT
/// (the stub was asleep although the command came within its spin budget after the event).
/// After a park (the stub sleeps and must be woken first) the spin is `parked_spin_ticks` instead.
/// `then_write_fd` >= 0: writes 1 (8 bytes) to that eventfd right after posting the command.
/// `kick_deadline` (TSC; 0: none): the write may wait until then while this thread spins for the
/// event; an event that comes first returns with BW_HANDOFF_KICK_DUE and the write still due.
int bw_systrap_call(struct bw_systrap_mailbox *mb, uint32_t cmd, long pid, uint64_t spin_ticks,
                    uint64_t parked_spin_ticks, int then_write_fd, uint64_t kick_deadline);
/// BW_HANDOFF_PARKED: the stub had been parked (the task blocked in the Sentry); not a miss.
/// BW_HANDOFF_PREEMPTED: the task thread's spin saw it had been descheduled and slept at once (not
/// counted as SLEPT). BW_HANDOFF_STUB_PREEMPTED: the stub slept because its spin was preempted (not
/// counted as STUB_SLEPT). BW_HANDOFF_KICK_DUE: the doorbell (`then_write_fd`) was held and is still due.
enum { BW_HANDOFF_SLEPT = 1, BW_HANDOFF_STUB_SLEPT = 2, BW_HANDOFF_PARKED = 4, BW_HANDOFF_PREEMPTED = 8,
       BW_HANDOFF_STUB_PREEMPTED = 16, BW_HANDOFF_KICK_DUE = 32 };
/// Sentry side: the preemption threshold (TSC ticks; 0: off) of the task threads' spins (bw_systrap_call,
/// bw_spin_while_equal): a larger gap between two iterations ends the spin (the thread sleeps).
void bw_systrap_set_preempt_ticks(uint64_t ticks);
/// Number of bw_spin_while_equal spins ended by a preemption (all threads; statistics).
uint64_t bw_spin_preempted_count(void);
/// Sentry side: the task blocks inside the Sentry; a stub spinning for its command sleeps at once (it
/// would take a CPU from the thread that is to wake the task). Cleared by the next bw_systrap_call.
static inline void bw_systrap_park(struct bw_systrap_mailbox *mb) {
    __atomic_store_n(&mb->stub_park, 1, __ATOMIC_RELAXED);
}
/// Sentry side: the blocked task was woken; wake its parked stub now, so that its wake-up overlaps the
/// task's work on the answer (it then spins for the command within its budget). 1 if it was parked.
int bw_systrap_unpark(struct bw_systrap_mailbox *mb);
/// Sentry side: stores the register set for the next RESUME, writing only the words that differ from
/// the mailbox's (the event's, in the stub's cache): unchanged cache lines are not moved to the Sentry's
/// CPU and back.
void bw_systrap_store_regs(struct bw_systrap_mailbox *mb, const struct user_regs_struct *r);
/// Sentry side: spins (pause, up to `ticks` TSC ticks) while the 32-bit word `w` equals `seen`; 1 if
/// it changed. A task about to sleep on the netstack's generation word spins first (Task.sleepOnNet).
int bw_spin_while_equal(const uint32_t *w, uint32_t seen, uint64_t ticks);
/// The TSC now (the clock of bw_systrap_call's deadlines).
uint64_t bw_systrap_rdtsc(void);
/// TSC ticks per microsecond (measured once against CLOCK_MONOTONIC; 0 if the TSC is unusable).
uint64_t bw_systrap_tsc_per_us(void);
/// The CPUs this process may run on (at most `max`), in `out`; returns their number.
int bw_allowed_cpus(int *out, int max);
/// Sentry side: waits for the first event of a new stub (bounded by `timeout_ms`). 0, or -1.
int bw_systrap_wait_event(struct bw_systrap_mailbox *mb, long pid, long timeout_ms);
#endif
