// Memory: anonymous and file mmap, mprotect with a SIGSEGV handler that fixes the protection,
// munmap, mremap, MAP_FIXED_NOREPLACE, MADV_DONTNEED zeroing, shared anonymous memory across fork.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char *page;
static volatile int faults = 0;
static volatile void *fault_addr;
static sigjmp_buf jb;

static void segv(int sig, siginfo_t *si, void *uc) {
    (void)sig; (void)uc;
    faults++;
    fault_addr = si->si_addr;
    if (faults == 1) mprotect(page, 4096, PROT_READ | PROT_WRITE);   // fix and retry
    else siglongjmp(jb, 1);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    page = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    page[10] = 'a';   // faults once, handler makes it writable, the store is retried
    printf("write after fix: %c faults=%d addr_ok=%d\n", page[10], faults, fault_addr == page + 10);
    munmap(page, 8192);
    if (sigsetjmp(jb, 1) == 0) { page[0] = 1; printf("no fault?\n"); }
    else printf("fault after munmap: faults=%d\n", faults);

    // mremap grows and keeps contents.
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(m, "keep me");
    char *n = mremap(m, 4096, 1 << 20, MREMAP_MAYMOVE);
    n[(1 << 20) - 1] = 'z';
    printf("mremap: %s %c\n", n, n[(1 << 20) - 1]);

    // MAP_FIXED_NOREPLACE on an existing mapping fails with EEXIST.
    void *r = mmap(n, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    printf("fixed_noreplace: failed=%d eexist=%d\n", r == MAP_FAILED, errno == EEXIST);

    // MADV_DONTNEED zeroes private anonymous pages.
    madvise(n, 1 << 20, MADV_DONTNEED);
    printf("after dontneed: %d %d\n", n[0], n[(1 << 20) - 1]);

    // File mapping sees file contents.
    int fd = open("/etc/passwd", O_RDONLY);
    char *f = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    char buf[5] = {0};
    pread(fd, buf, 4, 0);
    printf("file map matches read: %d\n", memcmp(f, buf, 4) == 0);

    // Shared anonymous memory is shared with a child; private memory is not.
    int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    int *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    *shared = 1; *priv = 1;
    pid_t p = fork();
    if (p == 0) { *shared = 42; *priv = 42; _exit(0); }
    waitpid(p, NULL, 0);
    printf("after fork: shared=%d private=%d\n", *shared, *priv);

    // brk grows the heap.
    void *b0 = sbrk(0);
    sbrk(1 << 16);
    memset(b0, 7, 1 << 16);
    printf("brk grew: %d\n", (char *)sbrk(0) - (char *)b0 == (1 << 16));
    // MAP_SHARED file mapping: writes reach the file after msync and after munmap (tmpfs and host files).
    const char *dirs[] = { "/tmp", "/var/tmp" };
    for (int d = 0; d < 2 && dirs[d]; d++) {
        char path[256];
        snprintf(path, sizeof path, "%s/memory-shared.%d", dirs[d], (int)getpid());
        int sf = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
        if (sf < 0 || ftruncate(sf, 8192) != 0) { printf("shared file: cannot create\n"); continue; }
        char *sm = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, sf, 0);
        memcpy(sm, "synced", 6);
        int ms = msync(sm, 8192, MS_SYNC);
        char rb[8] = {0};
        pread(sf, rb, 6, 0);
        int after_msync = memcmp(rb, "synced", 6) == 0;
        memcpy(sm + 4096, "unmapped", 8);
        munmap(sm, 8192);
        pread(sf, rb, 8, 4096);
        struct stat sst;
        fstat(sf, &sst);
        printf("shared file map: msync=%d after msync=%d after munmap=%d size=%ld\n", ms, after_msync,
               memcmp(rb, "unmapped", 8) == 0, (long)sst.st_size);
        close(sf);
        unlink(path);
    }
    printf("msync einval=%d\n", msync((void *)1, 4096, MS_SYNC) == -1 && errno == EINVAL);

    // A huge PROT_NONE reservation (InnoDB reserves 8 TiB) costs nothing until parts become accessible.
    size_t huge = (size_t)8 << 40;
    char *res = mmap(NULL, huge, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    int used = res != MAP_FAILED && mprotect(res + (1 << 30), 1 << 20, PROT_READ | PROT_WRITE) == 0;
    if (used) { res[(1 << 30) + 5] = 9; used = res[(1 << 30) + 5] == 9; }
    printf("8 TiB reservation: mapped=%d used=%d unmapped=%d\n", res != MAP_FAILED, used,
           res != MAP_FAILED && munmap(res, huge) == 0);
    return 0;
}
