// Guest for the syscall fault tests (FaultInjectionTests/SyscallFaultTests): does a fixed sequence of
// transfers and prints how many bytes each one moved, then times one getppid() call.
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static long ms_since(struct timespec a) {
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
}

int main(void) {
    char data[32], buf[64];
    for (int i = 0; i < 32; i++) data[i] = 'a' + i % 26;
    int p[2];
    if (pipe(p) != 0) { perror("pipe"); return 1; }
    printf("pipe-write %zd\n", write(p[1], data, 32));
    printf("pipe-read %zd\n", read(p[0], buf, sizeof buf));
    int fd = open("/tmp/faultio.txt", O_CREAT | O_TRUNC | O_RDWR, 0600);
    if (fd < 0) { perror("open"); return 1; }
    printf("file-write %zd\n", write(fd, data, 32));
    struct iovec iov[2] = {{buf, 16}, {buf + 16, 16}};
    printf("file-preadv %zd\n", preadv(fd, iov, 2, 0));
    printf("file-pread %zd\n", pread(fd, buf, sizeof buf, 0));
    close(fd);
    unlink("/tmp/faultio.txt");
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    getppid();
    long ms = ms_since(t0);
    printf("getppid-slow %s\n", ms >= 150 ? "yes" : "no");
    return 0;
}
