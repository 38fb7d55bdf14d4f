// Microbenchmark: cost of a trivial system call (getpid) and of fork+exec+wait of /bin/true.
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    double t0 = now();
    for (int i = 0; i < n; i++) syscall(SYS_getpid);
    double per = (now() - t0) / n * 1e6;
    int m = argc > 2 ? atoi(argv[2]) : 50;
    t0 = now();
    for (int i = 0; i < m; i++) {
        pid_t p = fork();
        if (p == 0) { execl("/bin/true", "true", (char *)NULL); _exit(127); }
        waitpid(p, NULL, 0);
    }
    double fe = (now() - t0) / m * 1e3;
    printf("getpid_us=%.2f fork_exec_wait_ms=%.2f\n", per, fe);
    return 0;
}
