// mremap growing MAP_PRIVATE file mappings, run natively and in the sandbox: the grown part shows the
// file's bytes (grow in place, grow that must move, grow to a fixed place), writes made through the
// mapping before and after the grow stay private (the file is unchanged), the file's size is read at
// mremap time (a file extended after mmap), and where the file ends inside the grown part, the tail of
// the last file page reads as zeros and the pages wholly past the end fault with SIGBUS (BUS_ADRERR at
// the touched address), reading from them in a system call is EFAULT; the same for a MAP_SHARED
// mapping, whose write inside the file reaches it without extending it.
// Usage: mremap_private DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sigbus_probe.h"

static long pg;

static int makeFile(const char *path, int pages, long extra) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); exit(1); }
    char *page = malloc(pg);
    for (int i = 0; i < pages; i++) {
        memset(page, 'a' + i, pg);
        if (pwrite(fd, page, pg, i * pg) != pg) { perror("pwrite"); exit(1); }
    }
    if (extra > 0) {
        memset(page, 'A' + pages, extra);
        if (pwrite(fd, page, extra, pages * pg) != extra) { perror("pwrite"); exit(1); }
    }
    free(page);
    return fd;
}

/// An address with `pages` free pages (mapped PROT_NONE, to be replaced with MAP_FIXED).
static char *spot(int pages) {
    char *r = mmap(NULL, pages * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) { perror("mmap spot"); exit(1); }
    return r;
}

int main(int argc, char **argv) {
    startProbe(argc, argv, "mremap_private");
    pg = sysconf(_SC_PAGESIZE);
    char path[4096], path2[4096], path3[4096];
    snprintf(path, sizeof path, "%s/data", argv[1]);
    snprintf(path2, sizeof path2, "%s/short", argv[1]);
    snprintf(path3, sizeof path3, "%s/later", argv[1]);
    // Eight pages: page i is all 'a' + i.
    int fd = makeFile(path, 8, 0);

    // 1. Grow in place: file page 0, grown over page 1; a private write before the grow stays.
    char *r = spot(3);
    munmap(r + pg, 2 * pg);
    char *p = mmap(r, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 0);
    memcpy(p + 10, "private0", 8);
    char *q = mremap(p, pg, 3 * pg, 0);
    printf("grow in place: %s, same address %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q == p);
    if (q != MAP_FAILED) {
        printf("  kept: %.8s\n", q + 10);
        touch("page 1", q + pg + 5);
        touch("page 2", q + 2 * pg + 4095);
        memcpy(q + pg + 20, "private1", 8);
        printf("  written: %.8s\n", q + pg + 20);
        munmap(q, 3 * pg);
    }
    fileAt(fd, "page 0", 10, 8);
    fileAt(fd, "page 1", pg + 20, 8);

    // 2. Grow with MREMAP_MAYMOVE where the next page is taken: moves, pages 2.. follow.
    r = spot(2);
    munmap(r, pg);
    p = mmap(r, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, 2 * pg);
    memcpy(p + 30, "private2", 8);
    q = mremap(p, pg, 3 * pg, MREMAP_MAYMOVE);
    printf("grow, may move: %s, moved %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q != p);
    if (q != MAP_FAILED) {
        printf("  kept: %.8s, page 2 shows '%c'\n", q + 30, q[100]);
        touch("page 3", q + pg);
        touch("page 4", q + 2 * pg + 1);
        q[2 * pg + 40] = '!';
        munmap(q, 3 * pg);
    }
    munmap(r + pg, pg);
    fileAt(fd, "page 2", 2 * pg + 30, 8);
    fileAt(fd, "page 4", 4 * pg + 40, 1);

    // 3. Grow twice, then move the whole to a fixed place (several pieces of one mapping).
    p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 5 * pg);
    char *dest = spot(4);
    q = mremap(p, pg, 2 * pg, MREMAP_MAYMOVE);
    q = q == MAP_FAILED ? q : mremap(q, 2 * pg, 3 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    printf("grow twice, fixed: %s, at dest %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q == dest);
    if (q != MAP_FAILED) {
        touch("page 5", q);
        touch("page 6", q + pg);
        touch("page 7", q + 2 * pg + 9);
        munmap(q, 3 * pg);
    }
    munmap(dest + 3 * pg, pg);

    // 4. A file of 1.5 pages, grown from one page to four: the rest of page 1 is zeros, pages 2 and 3
    // are past the end: SIGBUS, also for writes; a system call reading them fails with EFAULT.
    int fd2 = makeFile(path2, 1, pg / 2);
    p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd2, 0);
    q = mremap(p, pg, 4 * pg, MREMAP_MAYMOVE);
    printf("grow past the end: %s\n", q == MAP_FAILED ? strerror(errno) : "OK");
    if (q != MAP_FAILED) {
        touch("page 0", q + 1);
        touch("page 1 in the file", q + pg + 10);
        touch("page 1 past the end", q + pg + pg / 2 + 10);
        touch("page 2", q + 2 * pg);
        touch("page 3", q + 3 * pg + 100);
        poke("write page 1", q + pg + pg - 1, 'z');
        poke("write page 2", q + 2 * pg + 8, 'z');
        writeFromPages(q + 2 * pg, q + pg);
        munmap(q, 4 * pg);
    }
    struct stat st;
    fstat(fd2, &st);
    printf("  short file size %ld\n", (long)st.st_size);

    // 5. The same shared: a write inside the file reaches it, the file is not extended.
    p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
    q = mremap(p, pg, 3 * pg, MREMAP_MAYMOVE);
    printf("shared grow past the end: %s\n", q == MAP_FAILED ? strerror(errno) : "OK");
    if (q != MAP_FAILED) {
        touch("page 1 in the file", q + pg + 11);
        touch("page 2", q + 2 * pg + 5);
        memcpy(q + pg + 50, "shared1", 7);
        q[pg + pg / 2 + 50] = 'y';
        msync(q, 3 * pg, MS_SYNC);
        munmap(q, 3 * pg);
    }
    fileAt(fd2, "page 1", pg + 50, 7);
    fstat(fd2, &st);
    printf("  short file size %ld\n", (long)st.st_size);

    // 6. The file grows after mmap: mremap sees its size then.
    int fd3 = makeFile(path3, 1, 0);
    p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd3, 0);
    close(fd3);
    fd3 = open(path3, O_RDWR);
    if (pwrite(fd3, "later page", 10, pg + 100) != 10) perror("pwrite later");
    q = mremap(p, pg, 3 * pg, MREMAP_MAYMOVE);
    printf("file grown after mmap (descriptor closed): %s\n", q == MAP_FAILED ? strerror(errno) : "OK");
    if (q != MAP_FAILED) {
        printf("  page 1: \"%.10s\"\n", q + pg + 100);
        touch("page 2", q + 2 * pg);
        munmap(q, 3 * pg);
    }
    close(fd3);
    close(fd2);
    close(fd);
    printf("done\n");
    return 0;
}
