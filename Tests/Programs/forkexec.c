// fork/exec/wait: exit codes through wait4/waitid, execve of a static and a dynamic program with
// argv and envp, posix_spawn (vfork-style clone), pipes between processes, process groups.
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

extern char **environ;

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fds[2];
    pipe(fds);
    pid_t p = fork();
    if (p == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        char *argv[] = {"/bin/busybox", "echo", "from", "exec", NULL};
        execve(argv[0], argv, environ);
        _exit(99);
    }
    close(fds[1]);
    char buf[64] = {0};
    ssize_t n = read(fds[0], buf, sizeof buf - 1);
    int st;
    waitpid(p, &st, 0);
    printf("child said (%zd): %s", n, buf);
    printf("child status: %d\n", WEXITSTATUS(st));

    p = fork();
    if (p == 0) {
        char *argv[] = {"/bin/sh", "-c", "exit $((V + 1))", NULL};
        char *envp[] = {"V=41", NULL};
        execve(argv[0], argv, envp);
        _exit(99);
    }
    siginfo_t si;
    waitid(P_PID, p, &si, WEXITED);
    printf("waitid: code_exited=%d status=%d pid_ok=%d\n", si.si_code == CLD_EXITED, si.si_status, si.si_pid == p);

    pid_t spawned;
    char *sargv[] = {"/bin/true", NULL};
    int rc = posix_spawn(&spawned, "/bin/true", NULL, NULL, sargv, environ);
    waitpid(spawned, &st, 0);
    printf("posix_spawn rc=%d exited=%d code=%d\n", rc, WIFEXITED(st), WEXITSTATUS(st));

    // Exec of a missing program fails with ENOENT in the child.
    p = fork();
    if (p == 0) {
        char *argv[] = {"/no/such", NULL};
        execve(argv[0], argv, environ);
        _exit(errno == ENOENT ? 3 : 4);
    }
    waitpid(p, &st, 0);
    printf("missing exec: code=%d\n", WEXITSTATUS(st));

    // Many children, reaped in any order.
    int total = 0;
    for (int i = 0; i < 5; i++) if (fork() == 0) _exit(i);
    for (int i = 0; i < 5; i++) { wait(&st); total += WEXITSTATUS(st); }
    printf("sum of codes: %d, no more children: %d\n", total, wait(NULL) == -1);

    setpgid(0, 0);
    printf("own group: %d\n", getpgrp() == getpid());
    return 0;
}
