// Passes bad pointers to system calls: each must fail with EFAULT and the program keeps running.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <fcntl.h>

static void report(const char *what, long r) {
    printf("%s: r=%ld errno=%s\n", what, r, r < 0 ? strerror(errno) : "-");
    fflush(stdout);
}

int main(void) {
    report("write(1, (void*)1, 10)", syscall(SYS_write, 1, (void *)1, 10));
    report("open((char*)16)", syscall(SYS_openat, AT_FDCWD, (char *)16, O_RDONLY));
    report("fstat(0, (void*)24)", syscall(SYS_fstat, 0, (void *)24));
    report("clock_gettime(bad)", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)32));
    report("uname(bad)", syscall(SYS_uname, (void *)0xffffffffffff0000UL));
    int fds[2];
    report("pipe(ok)", syscall(SYS_pipe2, fds, 0));
    report("write(pipe, text of main)", syscall(SYS_write, fds[1], (void *)main, 4));
    report("read(pipe, (void*)8, 4)", syscall(SYS_read, fds[0], (void *)8, 4));
    report("readv(pipe, bad iov)", syscall(SYS_readv, fds[0], (void *)40, 1));
    char ok[4];
    report("read(pipe, ok)", syscall(SYS_read, fds[0], ok, 4));
    report("still alive", 0);
    return 0;
}
