// The program's own code as seen through /proc/self/mem after its system call sites are hot (the
// sandbox patches glibc's getpid `mov $nr,%eax; syscall` and read `xor %eax,%eax; syscall` sites
// after a few calls): the bytes must be the library file's, as on Linux. Then the page holding
// getpid is made writable (as a program patching its own code would): plain loads must show the
// file's bytes too, a write through /proc/self/mem works, and getpid still works after it. Before
// that, writes through /proc/self/mem to read-only pages (read's code, a constant string) work as
// Linux forces them (a private copy of the page), and /proc/self/maps still shows libc's segments.
// stdout is compared with a native run; stderr reports how many bytes plain loads saw differ
// before the mprotect (0 natively; the sandbox's rewritten sites otherwise).
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

// The file bytes behind address `a` (from /proc/self/maps), or -1.
static int file_bytes(uintptr_t a, unsigned char *out, size_t n) {
    FILE *m = fopen("/proc/self/maps", "r");
    if (!m) return -1;
    char line[512];
    int r = -1;
    while (fgets(line, sizeof line, m)) {
        unsigned long s, e, off;
        char perms[8], path[256] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &s, &e, perms, &off, path) < 4) continue;
        if (a < s || a + n > e || path[0] != '/') continue;
        int fd = open(path, O_RDONLY);
        if (fd < 0) break;
        r = pread(fd, out, n, (off_t)(off + (a - s))) == (ssize_t)n ? 0 : -1;
        close(fd);
        break;
    }
    fclose(m);
    return r;
}

static int mem_bytes(int fd, uintptr_t a, unsigned char *out, size_t n) {
    return pread(fd, out, n, (off_t)a) == (ssize_t)n ? 0 : -1;
}

static int differing(const unsigned char *x, const unsigned char *y, size_t n) {
    int d = 0;
    for (size_t i = 0; i < n; i++) d += x[i] != y[i];
    return d;
}

static void check(const char *name, int memfd, uintptr_t a, size_t n) {
    unsigned char f[512], m[512], p[512];
    if (file_bytes(a, f, n) != 0) { printf("%s: no file bytes\n", name); return; }
    if (mem_bytes(memfd, a, m, n) != 0) { printf("%s: /proc/self/mem read failed: %s\n", name, strerror(errno)); return; }
    memcpy(p, (const void *)a, n);
    printf("%s: /proc/self/mem matches the file: %s", name, memcmp(f, m, n) == 0 ? "yes" : "no");
    printf(" (first bytes %02x %02x %02x %02x)\n", m[0], m[1], m[2], m[3]);
    fprintf(stderr, "%s: plain loads differ from the file in %d byte(s)\n", name, differing(f, p, n));
}

// The /proc/self/maps lines of the file holding `a`: permissions, offset and length (no addresses).
static void map_lines(const char *name, uintptr_t a) {
    FILE *m = fopen("/proc/self/maps", "r");
    if (!m) return;
    char line[512], want[256] = "";
    while (fgets(line, sizeof line, m)) {
        unsigned long s, e;
        char path[256] = "";
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %255s", &s, &e, path) >= 2 && a >= s && a < e) { strcpy(want, path); break; }
    }
    rewind(m);
    int n = 0;
    while (want[0] && fgets(line, sizeof line, m)) {
        unsigned long s, e, off;
        char perms[8], path[256] = "";
        if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &s, &e, perms, &off, path) < 5 || strcmp(path, want) != 0) continue;
        printf("%s maps line %d: %s offset 0x%lx length 0x%lx\n", name, ++n, perms, off, e - s);
    }
    fclose(m);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int memfd = open("/proc/self/mem", O_RDWR);
    if (memfd < 0) { printf("open /proc/self/mem: %s\n", strerror(errno)); return 1; }
    int zero = open("/dev/zero", O_RDONLY);
    char b[8];
    pid_t pid = 0;
    for (int i = 0; i < 20; i++) { pid = getpid(); if (read(zero, b, sizeof b) != sizeof b) return 2; }
    (void)pid;

    uintptr_t g = (uintptr_t)&getpid, r = (uintptr_t)&read;
    check("getpid", memfd, g, 64);
    // glibc's read: the site, and the padding within a short jump of it that the xor form uses.
    check("read", memfd, r - 128, 384);
    // The patched pages are copies inside the library's mapping: still one line per segment.
    map_lines("libc", g);

    // A write through /proc/self/mem to read's page while it is read-only and executable (Linux
    // forces it, as a debugger's breakpoint): the file's bytes go back, and read still works.
    {
        unsigned char f[384], p[384];
        file_bytes(r - 128, f, 384);
        ssize_t w = pwrite(memfd, f, 384, (off_t)(r - 128));
        memcpy(p, (const void *)(r - 128), 384);
        int ok = 1;
        for (int i = 0; i < 5; i++) ok &= read(zero, b, sizeof b) == sizeof b;
        printf("forced write to read's code: %zd, plain loads match the file: %s, read works: %s\n", w,
               memcmp(f, p, 384) == 0 ? "yes" : "no", ok ? "yes" : "no");
    }
    // A read-only data page: the write shows through plain loads.
    static const char ro[] = "read-only string";
    ssize_t rw = pwrite(memfd, "R", 1, (off_t)(uintptr_t)ro);
    printf("forced write to read-only data: %zd, now \"%s\"\n", rw, *(const char *volatile *)&(const char *){ro});

    map_lines("libc after the forced write", g);

    // Make getpid's page writable: plain loads now show the file's bytes as well.
    uintptr_t page = g & ~(uintptr_t)4095;
    if (g + 64 > page + 4096) { printf("getpid crosses a page\n"); return 3; }
    if (mprotect((void *)page, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) { printf("mprotect: %s\n", strerror(errno)); return 4; }
    unsigned char f[64], p[64];
    file_bytes(g, f, 64);
    memcpy(p, (const void *)g, 64);
    printf("writable getpid page: plain loads match the file: %s\n", memcmp(f, p, 64) == 0 ? "yes" : "no");
    ssize_t w = pwrite(memfd, f, 64, (off_t)g);
    printf("write of the same bytes through /proc/self/mem: %zd\n", w);
    pid_t again = 0;
    for (int i = 0; i < 5; i++) again = getpid();
    printf("getpid after: %s\n", again == getpid() && again > 0 ? "works" : "broken");
    mprotect((void *)page, 4096, PROT_READ | PROT_EXEC);
    for (int i = 0; i < 5; i++) again = getpid();
    check("getpid again", memfd, g, 64);
    close(zero);
    close(memfd);
    return 0;
}
