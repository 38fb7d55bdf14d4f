// Cost of reading /proc files: open + read until EOF + close, N times (default 2000), for each path
// given after N (default /proc/self/status and /proc/self/stat). Prints average nanoseconds per read.
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int read_all(const char *path) {
    char buf[8192];
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) { close(fd); return -1; }
        if (n == 0) break;
        total += (int)n;
    }
    close(fd);
    return total;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    const char *defaults[] = { "/proc/self/status", "/proc/self/stat" };
    const char **paths = argc > 2 ? (const char **)argv + 2 : defaults;
    int count = argc > 2 ? argc - 2 : 2;
    for (int p = 0; p < count; p++) {
        if (read_all(paths[p]) <= 0) { perror(paths[p]); return 1; }
        double t0 = now_ns();
        for (int i = 0; i < n; i++) {
            if (read_all(paths[p]) <= 0) { perror(paths[p]); return 1; }
        }
        printf("%s %.0f ns\n", paths[p], (now_ns() - t0) / n);
    }
    return 0;
}
