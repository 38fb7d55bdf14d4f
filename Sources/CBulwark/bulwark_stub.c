// The ptrace stub: the host process that runs application code for one address space. Code after
// fork in the child runs raw syscalls only (no libc state may be used in a forked multi-threaded
// process), then jumps into the stub page, which unmaps every other mapping of the Sentry.
#define _GNU_SOURCE
#include "bulwark_ptrace.h"
#include "bulwark_systrap.h"
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/rseq.h>

static inline long raw6(long n, long a, long b, long c, long d, long e, long f) {
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}

static void put64(unsigned char *p, unsigned long v) { memcpy(p, &v, 8); }

/// A memfd holding a tiny static ELF whose one PT_LOAD is the stub page at BW_STUB_ADDR and whose
/// entry is the init routine. New stubs vfork+exec it: a fresh address space without copying the
/// Sentry's page tables (much cheaper than forking the whole Sentry).
static int stub_elf_fd = -1;
static int bw_systrap_code_ok = 0;
int bw_systrap_available(void) { return bw_systrap_code_ok; }

static void make_stub_elf(const unsigned char *page) {
    unsigned char img[2 * BW_STUB_SIZE];
    memset(img, 0, sizeof img);
    // ELF header
    img[0] = 0x7f; img[1] = 'E'; img[2] = 'L'; img[3] = 'F';
    img[4] = 2; img[5] = 1; img[6] = 1;                      // 64-bit, little endian, version
    unsigned short u16;
    unsigned int u32;
    u16 = 2; memcpy(img + 16, &u16, 2);                      // ET_EXEC
    u16 = 62; memcpy(img + 18, &u16, 2);                     // EM_X86_64
    u32 = 1; memcpy(img + 20, &u32, 4);
    put64(img + 24, BW_STUB_ADDR + 16);                      // e_entry: init routine
    put64(img + 32, 64);                                     // e_phoff
    u16 = 64; memcpy(img + 52, &u16, 2);                     // e_ehsize
    u16 = 56; memcpy(img + 54, &u16, 2);                     // e_phentsize
    u16 = 1; memcpy(img + 56, &u16, 2);                      // e_phnum
    // PT_LOAD: file page 1 -> BW_STUB_ADDR, R+X
    unsigned char *ph = img + 64;
    u32 = 1; memcpy(ph, &u32, 4);
    u32 = 5; memcpy(ph + 4, &u32, 4);
    put64(ph + 8, BW_STUB_SIZE);
    put64(ph + 16, BW_STUB_ADDR);
    put64(ph + 24, BW_STUB_ADDR);
    put64(ph + 32, BW_STUB_SIZE);
    put64(ph + 40, BW_STUB_SIZE);
    put64(ph + 48, BW_STUB_SIZE);
    memcpy(img + BW_STUB_SIZE, page, BW_STUB_SIZE);
    int fd = (int)syscall(SYS_memfd_create, "bulwark-stub", 1 /* MFD_CLOEXEC */);
    if (fd < 0) return;
    if (write(fd, img, sizeof img) != (ssize_t)sizeof img) { close(fd); return; }
    stub_elf_fd = fd;
}

long bw_stub_spawn(int memfd) {
    if (stub_elf_fd < 0) return -ENOSYS;
    int elf = stub_elf_fd;
    char *argv[] = { "bulwark-stub", 0 };
    char *envp[] = { 0 };
    unsigned long empty = 0;
    pid_t pid = vfork();
    if (pid == 0) {
        // vfork child: shares the Sentry's memory until exec; raw syscalls only, never return.
        raw6(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
        raw6(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0);
        if (memfd > 0) raw6(SYS_close_range, 0, memfd - 1, 4 /* CLOSE_RANGE_CLOEXEC */, 0, 0, 0);
        raw6(SYS_close_range, memfd + 1, ~0U, 4, 0, 0, 0);
        raw6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8, 0, 0);
        raw6(SYS_execveat, elf, (long)"", (long)argv, (long)envp, 0x1000 /* AT_EMPTY_PATH */, 0);
        for (;;) raw6(SYS_exit, 127, 0, 0, 0, 0, 0);
    }
    return pid < 0 ? -errno : pid;
}

int bw_stub_install(void) {
    void *p = mmap((void *)BW_STUB_ADDR, BW_STUB_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p == MAP_FAILED) return -errno;
    if (p != (void *)BW_STUB_ADDR) { munmap(p, BW_STUB_SIZE); return -EEXIST; }
    unsigned char *c = p;
    memset(c, 0xcc, BW_STUB_SIZE);  // int3 everywhere
    // +0: syscall; int3  (injected system calls)
    c[0] = 0x0f; c[1] = 0x05; c[2] = 0xcc;
    // +16: init: munmap(0, STUB_ADDR); munmap(STUB_END, TASK_SIZE-STUB_END); int3; jmp back
    unsigned char *q = c + 16;
    *q++ = 0xb8; *q++ = 11; *q++ = 0; *q++ = 0; *q++ = 0;          // mov eax, 11
    *q++ = 0x31; *q++ = 0xff;                                      // xor edi, edi
    *q++ = 0x48; *q++ = 0xbe; put64(q, BW_STUB_ADDR); q += 8;      // mov rsi, imm64
    *q++ = 0x0f; *q++ = 0x05;                                      // syscall
    *q++ = 0xb8; *q++ = 11; *q++ = 0; *q++ = 0; *q++ = 0;          // mov eax, 11
    *q++ = 0x48; *q++ = 0xbf; put64(q, BW_STUB_ADDR + BW_STUB_SIZE); q += 8;
    *q++ = 0x48; *q++ = 0xbe; put64(q, BW_TASK_SIZE - BW_STUB_ADDR - BW_STUB_SIZE); q += 8;
    *q++ = 0x0f; *q++ = 0x05;                                      // syscall
    *q++ = 0xcc;                                                   // int3: "ready" stop
    *q++ = 0xeb; *q++ = 0xfd;                                      // jmp back to int3
    bw_systrap_code_ok = bw_systrap_install(c, BW_STUB_SIZE) == 0;
    make_stub_elf(c);
    if (mprotect(p, BW_STUB_SIZE, PROT_READ | PROT_EXEC) != 0) return -errno;
    return 0;
}

long bw_stub_fork(int memfd) {
    // The forked child inherits this thread's rseq registration; the kernel would write to the rseq
    // area (in memory the stub unmaps) and kill the stub with SIGSEGV. Unregister it in the child.
    void *rseq_area = __rseq_size > 0 ? (void *)((char *)__builtin_thread_pointer() + __rseq_offset) : 0;
    unsigned rseq_len = __rseq_size < 32 ? 32 : __rseq_size;
    long pid = raw6(SYS_clone, SIGCHLD, 0, 0, 0, 0, 0);
    if (pid != 0) return pid;  // parent (or -errno)
    // Child: raw syscalls only.
    if (rseq_area) raw6(334 /* SYS_rseq */, (long)rseq_area, rseq_len, 1 /* UNREGISTER */, 0x53053053, 0, 0);
    raw6(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0, 0);
    raw6(SYS_ptrace, PTRACE_TRACEME, 0, 0, 0, 0, 0);
    if (memfd > 0) raw6(SYS_close_range, 0, memfd - 1, 0, 0, 0, 0);
    raw6(SYS_close_range, memfd + 1, ~0U, 0, 0, 0, 0);
    unsigned long empty = 0;
    raw6(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8, 0, 0);
    void (*init)(void) = (void (*)(void))(BW_STUB_ADDR + 16);
    init();
    for (;;) raw6(SYS_exit, 1, 0, 0, 0, 0, 0);
}

int bw_pin_self(int cpu) {
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set) == 0 ? 0 : -errno;
}
int bw_pin_pid(long pid, int cpu) {
    cpu_set_t set; CPU_ZERO(&set); CPU_SET(cpu, &set);
    return sched_setaffinity((pid_t)pid, sizeof set, &set) == 0 ? 0 : -errno;
}
int bw_current_cpu(void) { return sched_getcpu(); }

// The process's CPU mask at start-up (before task threads pin themselves), and the calling thread's
// mask saved by bw_spawn_affinity_begin. Helper processes (netstack, procfs) are spawned by a task
// thread pinned to one CPU and would inherit that pin.
static cpu_set_t process_cpus;
static int process_cpus_known;
static __thread cpu_set_t spawn_saved;
static __thread int spawn_widened;
void bw_record_process_cpus(void) {
    if (process_cpus_known) return;
    CPU_ZERO(&process_cpus);
    if (sched_getaffinity(0, sizeof process_cpus, &process_cpus) == 0) process_cpus_known = 1;
}
int bw_spawn_affinity_begin(void) {
    spawn_widened = 0;
    if (!process_cpus_known || sched_getaffinity(0, sizeof spawn_saved, &spawn_saved) != 0) return -1;
    if (CPU_EQUAL(&spawn_saved, &process_cpus)) return 0;
    if (sched_setaffinity(0, sizeof process_cpus, &process_cpus) != 0) return -errno;
    spawn_widened = 1;
    return 0;
}
void bw_spawn_affinity_end(void) {
    if (spawn_widened) sched_setaffinity(0, sizeof spawn_saved, &spawn_saved);
    spawn_widened = 0;
}
