// Calls that a test seccomp profile (ProcessIdentityTests) refuses, allows by argument, or kills for;
// run under runc (the kernel's seccomp) and bulwark (the Sentry's) and compared.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *name, long r) { printf("%s=%s\n", name, r < 0 ? strerrorname_np(errno) : "ok"); }

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    show("getppid", syscall(SYS_getppid));
    show("mkdir", mkdir("/tmp/d", 0755));
    show("mkdirat", mkdirat(-100, "/tmp/d", 0755));
    show("personality-query", personality(0xffffffff));
    show("personality-8", personality(8));
    show("umask-022", umask(022) >= 0 ? 0 : -1);
    show("umask-with-bit-6", syscall(SYS_umask, 0100));
    show("getuid", syscall(SYS_getuid));
    show("getcwd-size-1", syscall(SYS_getcwd, (char[8]){0}, 1));
    show("getcwd-size-4096", syscall(SYS_getcwd, (char[4096]){0}, 4096));
    printf("about to be killed\n");
    syscall(SYS_getpgrp);
    printf("still alive\n");
    return 0;
}
