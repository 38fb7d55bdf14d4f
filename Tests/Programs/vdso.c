// The vDSO: AT_SYSINFO_EHDR is present and clock_gettime/gettimeofday/time agree with each other and
// never go backwards.
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/time.h>
#include <time.h>

int main(void) {
    printf("vdso present: %d\n", getauxval(AT_SYSINFO_EHDR) != 0);
    struct timespec a, b;
    int backwards = 0;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 100000; i++) {
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (b.tv_sec < a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec < a.tv_nsec)) backwards++;
        a = b;
    }
    printf("monotonic never backwards: %d\n", backwards == 0);
    struct timespec rt;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    gettimeofday(&tv, NULL);
    long long d = (long long)tv.tv_sec * 1000000 + tv.tv_usec - ((long long)rt.tv_sec * 1000000 + rt.tv_nsec / 1000);
    printf("gettimeofday agrees with realtime: %d\n", d >= 0 && d < 100000);
    time_t t = time(NULL);
    printf("time agrees: %d\n", t >= rt.tv_sec && t <= rt.tv_sec + 1);
    return 0;
}
