// mmap of a file past its end, run natively and in the sandbox (mmap(2): "Use of a mapped region can
// result in SIGBUS: attempted access to a page of the buffer that lies beyond the end of the mapped
// file"): the tail of the page holding the end reads as zeros, pages wholly past the end fault with
// SIGBUS (BUS_ADRERR at the touched byte) for reads and writes, private and shared, an empty file and
// an offset past the end too; a system call reading from such a page is EFAULT. The size counts at
// fault time: after the file grows, the same pages show its bytes (a shared mapping writes to it).
// Usage: mmap_eof DIR
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

static int makeFile(const char *path, long size) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); exit(1); }
    char *b = malloc(size + 1);
    for (long i = 0; i < size; i++) b[i] = 'a' + (i / pg) % 26;
    if (size > 0 && pwrite(fd, b, size, 0) != size) { perror("pwrite"); exit(1); }
    free(b);
    return fd;
}

/// How many /proc/self/maps lines cover [p, p + len) (Linux: one per mapping, also past the end).
static int mapLines(char *p, long len) {
    FILE *m = fopen("/proc/self/maps", "r");
    if (!m) return -1;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, m)) {
        unsigned long s, e;
        if (sscanf(line, "%lx-%lx", &s, &e) == 2 && s < (unsigned long)p + len && e > (unsigned long)p) n++;
    }
    fclose(m);
    return n;
}

int main(int argc, char **argv) {
    startProbe(argc, argv, "mmap_eof");
    pg = sysconf(_SC_PAGESIZE);
    char path[4096];

    // 1. A file of 1.5 pages mapped over 4, read-only private.
    snprintf(path, sizeof path, "%s/short", argv[1]);
    int fd = makeFile(path, pg + pg / 2);
    char *p = mmap(NULL, 4 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("private read-only, 1.5 pages mapped over 4: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) {
        printf("  /proc/self/maps lines: %d\n", mapLines(p, 4 * pg));
        touch("page 0", p + 1);
        touch("last file byte", p + pg + pg / 2 - 1);
        touch("page 1 past the end", p + pg + pg / 2);
        touch("page 1 last byte", p + 2 * pg - 1);
        touch("page 2", p + 2 * pg);
        touch("page 3", p + 3 * pg + 77);
        writeFromPages(p + 2 * pg, p + pg);
        munmap(p, 4 * pg);
    }

    // 2. Private writable: writes past the end fault too; writes inside stay private.
    p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    printf("private writable: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) {
        poke("write page 1 tail", p + 2 * pg - 1, 'z');
        poke("write page 2", p + 2 * pg + 8, 'z');
        touch("page 1 tail", p + 2 * pg - 1);
        munmap(p, 3 * pg);
    }

    // 3. Shared writable: inside the file a write reaches it; past the end SIGBUS; the file keeps its size.
    p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    printf("shared writable: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) {
        memcpy(p + pg + 10, "shared", 6);
        poke("write page 2", p + 2 * pg + 1, 'q');
        msync(p, 3 * pg, MS_SYNC);
        fileAt(fd, "page 1", pg + 10, 6);
        struct stat st;
        fstat(fd, &st);
        printf("  file size %ld\n", (long)st.st_size);
        // The file grows: page 2 now holds file data and the mapping shows it, writes reach it.
        if (ftruncate(fd, 3 * pg) != 0) perror("ftruncate");
        if (pwrite(fd, "grown", 5, 2 * pg + 100) != 5) perror("pwrite grown");
        touch("page 2 after the file grew", p + 2 * pg + 100);
        memcpy(p + 2 * pg + 200, "mapped", 6);
        msync(p, 3 * pg, MS_SYNC);
        fileAt(fd, "page 2", 2 * pg + 200, 6);
        munmap(p, 3 * pg);
    }
    close(fd);

    // 4. A private mapping of a file that grows after mmap: the new page shows the file's bytes.
    snprintf(path, sizeof path, "%s/later", argv[1]);
    fd = makeFile(path, 100);
    p = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("private, file grown after mmap: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) {
        touch("page 1 before", p + pg + 5);
        if (pwrite(fd, "later", 5, pg + 5) != 5) perror("pwrite later");
        touch("page 1 after", p + pg + 5);
        munmap(p, 2 * pg);
    }
    close(fd);

    // 5. An empty file, and an offset past the end.
    snprintf(path, sizeof path, "%s/empty", argv[1]);
    fd = makeFile(path, 0);
    p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("empty file: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) { touch("byte 0", p); munmap(p, pg); }
    close(fd);
    snprintf(path, sizeof path, "%s/short", argv[1]);
    fd = open(path, O_RDONLY);
    p = mmap(NULL, 2 * pg, PROT_READ, MAP_SHARED, fd, 4 * pg);
    printf("offset past the end: %s\n", p == MAP_FAILED ? strerror(errno) : "OK");
    if (p != MAP_FAILED) { touch("byte 0", p); touch("page 1", p + pg + 3); munmap(p, 2 * pg); }

    close(fd);

    // 6. MAP_FIXED over a mapping with pages past the end, and mprotect across the end (the file
    // "later" has 1 page and 10 bytes now).
    snprintf(path, sizeof path, "%s/later", argv[1]);
    fd = open(path, O_RDONLY);
    p = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p != MAP_FAILED) {
        printf("mprotect across the end: %d\n", mprotect(p, 3 * pg, PROT_READ | PROT_WRITE));
        poke("write page 0", p + 5, 'w');
        poke("write page 2", p + 2 * pg + 5, 'w');
        char *a = mmap(p + 2 * pg, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        printf("anonymous MAP_FIXED over page 2: %s\n", a == p + 2 * pg ? "OK" : strerror(errno));
        touch("page 2 now", p + 2 * pg + 5);
        munmap(p, 3 * pg);
    }
    close(fd);
    printf("done\n");
    return 0;
}
