// execve from a multi-threaded process: the other threads disappear and the new image runs alone;
// a thread's exit does not end the process; exit_group from a thread ends all of them.
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

static void *sleeper(void *arg) { (void)arg; for (;;) pause(); return NULL; }
static void *quitter(void *arg) { (void)arg; return NULL; }
static void *ender(void *arg) { (void)arg; usleep(20000); _exit(9); }

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    pthread_t t;
    pthread_create(&t, NULL, quitter, NULL);
    pthread_join(t, NULL);
    printf("thread exited, process alive\n");
    pid_t p = fork();
    if (p == 0) {
        pthread_create(&t, NULL, ender, NULL);
        for (;;) pause();
    }
    int st;
    waitpid(p, &st, 0);
    printf("exit_group from a thread: %d\n", WEXITSTATUS(st));
    pthread_create(&t, NULL, sleeper, NULL);
    pthread_create(&t, NULL, sleeper, NULL);
    usleep(10000);
    char *args[] = {"/bin/busybox", "echo", "exec from threaded process", NULL};
    execv(args[0], args);
    perror("execv");
    return 1;
}
