// mremap of MAP_SHARED mappings, run natively and in the sandbox: after a move (MREMAP_FIXED), a
// grow in place, a grow that moves, a shrink, writes through the new mapping reach the file (read
// back with pread after msync, after munmap, and after the descriptor was closed); the grown part
// shows the file's bytes; a forked child's mremap keeps sharing the pages with its parent (file
// and anonymous shared mappings). The file DIR/data is left for the caller to compare from the
// host side. Usage: mremap_shared DIR
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static long pg;
static char path[4096];

static void at(int fd, const char *what, long off, int len) {
    char b[64] = {0};
    ssize_t n = pread(fd, b, len, off);
    printf("  %s: pread %zd \"%.*s\"\n", what, n, n > 0 ? (int)n : 0, b);
}

/// An address with `pages` free pages (mapped PROT_NONE, to be replaced with MREMAP_FIXED).
static char *spot(int pages) {
    char *r = mmap(NULL, pages * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED) { perror("mmap spot"); exit(1); }
    return r;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: mremap_shared DIR\n"); return 2; }
    setvbuf(stdout, NULL, _IONBF, 0);
    pg = sysconf(_SC_PAGESIZE);
    if (mkdir(argv[1], 0755) != 0 && errno != EEXIST) { perror(argv[1]); return 1; }
    snprintf(path, sizeof path, "%s/data", argv[1]);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); return 1; }
    // Eight pages: page i is all 'a' + i.
    char *page = malloc(pg);
    for (int i = 0; i < 8; i++) {
        memset(page, 'a' + i, pg);
        if (pwrite(fd, page, pg, i * pg) != pg) { perror("pwrite"); return 1; }
    }

    // 1. Grow and move to a fixed place.
    char *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(p + 10, "before", 6);
    char *dest = spot(2);
    char *q = mremap(p, pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    printf("grow+move: %s, at dest %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q == dest);
    printf("  old bytes kept: %.6s, grown page shows '%c'\n", q + 10, q[pg + 5]);
    memcpy(q + 100, "moved0", 6);
    memcpy(q + pg + 100, "moved1", 6);
    printf("msync: %d\n", msync(q, 2 * pg, MS_SYNC));
    at(fd, "page 0", 100, 6);
    at(fd, "page 1", pg + 100, 6);
    at(fd, "page 0 before", 10, 6);
    memcpy(q + pg + 120, "unmapped", 8);
    munmap(q, 2 * pg);
    at(fd, "after munmap", pg + 120, 8);

    // 2. Grow in place (the next pages are free): file page 2, grown over page 3.
    char *r = spot(3);
    munmap(r + pg, 2 * pg);
    p = mmap(r, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 2 * pg);
    q = mremap(p, pg, 2 * pg, 0);
    printf("grow in place: %s, same address %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q == p);
    if (q != MAP_FAILED) {
        printf("  grown page shows '%c'\n", q[pg + 7]);
        memcpy(q + 200, "inplace2", 8);
        memcpy(q + pg + 200, "inplace3", 8);
        msync(q, 2 * pg, MS_SYNC);
        at(fd, "page 2", 2 * pg + 200, 8);
        at(fd, "page 3", 3 * pg + 200, 8);
        munmap(q, 2 * pg);
    }

    // 3. Grow with MREMAP_MAYMOVE where the next page is taken (moves anywhere).
    r = spot(2);
    munmap(r, pg);
    p = mmap(r, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 4 * pg);
    q = mremap(p, pg, 3 * pg, MREMAP_MAYMOVE);
    printf("grow, may move: %s, moved %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q != p);
    if (q != MAP_FAILED) {
        printf("  grown pages show '%c' '%c'\n", q[pg], q[2 * pg + 1]);
        memcpy(q + 2 * pg + 300, "maymove6", 8);
        munmap(q, 3 * pg);
        at(fd, "page 6 after munmap", 6 * pg + 300, 8);
    }
    munmap(r + pg, pg);

    // 4. Shrink, then write through what is left; the cut-off part was written back too.
    p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 6 * pg);
    memcpy(p + pg + 400, "cutoff7", 7);
    q = mremap(p, 2 * pg, pg, 0);
    printf("shrink: %s, same address %d\n", q == MAP_FAILED ? strerror(errno) : "OK", q == p);
    memcpy(q + 400, "shrunk6", 7);
    at(fd, "page 7 (cut off)", 7 * pg + 400, 7);
    munmap(q, pg);
    at(fd, "page 6", 6 * pg + 400, 7);

    // 5. Move without growing, descriptor closed before the last write.
    p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 5 * pg);
    dest = spot(1);
    q = mremap(p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, dest);
    printf("move: %s\n", q == MAP_FAILED ? strerror(errno) : "OK");
    close(fd);
    memcpy(q + 500, "closed5", 7);
    munmap(q, pg);
    fd = open(path, O_RDWR);
    at(fd, "page 5 after close and munmap", 5 * pg + 500, 7);

    // 6. A forked child moves its copy of a shared mapping and writes: the parent sees it.
    p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    char *anon = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    strcpy(anon, "parent");
    pid_t pid = fork();
    if (pid == 0) {
        char *d1 = spot(2), *d2 = spot(2);
        char *c = mremap(p, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, d1);
        char *a = mremap(anon, pg, pg, MREMAP_MAYMOVE | MREMAP_FIXED, d2);
        if (c == MAP_FAILED || a == MAP_FAILED) _exit(1);
        memcpy(c + 600, "child0", 6);
        strcpy(a, "child wrote");
        _exit(0);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("child exit %d\n", WEXITSTATUS(status));
    printf("  parent's file mapping: \"%.6s\", anonymous: \"%s\"\n", p + 600, anon);
    munmap(p, pg);
    at(fd, "page 0 from the child", 600, 6);

    // The whole file, for comparing with native.
    unsigned long sum = 0;
    struct stat st;
    fstat(fd, &st);
    for (long off = 0; off < st.st_size; off += pg) {
        ssize_t n = pread(fd, page, pg, off);
        for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)page[i];
    }
    printf("size %ld checksum %lx\n", (long)st.st_size, sum);
    close(fd);
    printf("done\n");
    return 0;
}
