// Signal-driven I/O: FIOASYNC / F_SETFL O_ASYNC, F_SETOWN(_EX), F_SETSIG, and SIGIO on new input in a
// pipe and a socketpair. Prints one line per check; run natively and in the sandbox and compared.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_io, got_rt, rt_code;

static void on_io(int s) { (void)s; got_io++; }
static void on_rt(int s, siginfo_t *si, void *u) { (void)s; (void)u; got_rt++; rt_code = si->si_code; }

static void wait_a_little(volatile sig_atomic_t *flag) {
    for (int i = 0; i < 200 && !*flag; i++) usleep(1000);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGIO, on_io);
    struct sigaction sa = { .sa_sigaction = on_rt, .sa_flags = SA_SIGINFO };
    sigaction(SIGRTMIN + 1, &sa, NULL);

    int p[2];
    pipe(p);
    printf("getown before: %d\n", fcntl(p[0], F_GETOWN));
    int r = fcntl(p[0], F_SETOWN, 999999);
    printf("setown bad pid: %d %s\n", r, strerror(errno));
    printf("setown self: %d\n", fcntl(p[0], F_SETOWN, getpid()));
    printf("getown: %d\n", fcntl(p[0], F_GETOWN) == getpid());
    // Owner set but O_ASYNC off: no signal.
    write(p[1], "a", 1);
    usleep(20000);
    printf("sigio without O_ASYNC: %d\n", got_io);
    char c;
    read(p[0], &c, 1);
    int on = 1;
    printf("FIOASYNC: %d\n", ioctl(p[0], FIOASYNC, &on));
    printf("O_ASYNC in flags: %d\n", (fcntl(p[0], F_GETFL) & O_ASYNC) != 0);
    write(p[1], "b", 1);
    wait_a_little(&got_io);
    printf("sigio after write: %d\n", got_io > 0);
    read(p[0], &c, 1);

    // A socketpair with F_SETFL O_ASYNC, F_SETOWN_EX and F_SETSIG: the queued signal carries POLL_IN.
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct f_owner_ex ex = { .type = F_OWNER_PID, .pid = getpid() };
    printf("setown_ex: %d\n", fcntl(sv[0], F_SETOWN_EX, &ex));
    struct f_owner_ex back = { 0 };
    fcntl(sv[0], F_GETOWN_EX, &back);
    printf("getown_ex: type %d self %d\n", back.type, back.pid == getpid());
    r = fcntl(sv[0], F_SETSIG, SIGRTMIN + 1);
    printf("setsig: %d getsig ok: %d\n", r, fcntl(sv[0], F_GETSIG) == SIGRTMIN + 1);
    printf("setfl O_ASYNC: %d\n", fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC));
    if (fork() == 0) { usleep(20000); write(sv[1], "x", 1); _exit(0); }
    wait_a_little(&got_rt);
    wait(NULL);
    printf("rt signal from child's write: %d code POLL_IN: %d\n", got_rt > 0, rt_code == POLL_IN);
    r = fcntl(sv[0], F_SETSIG, 65);
    printf("setsig bad: %d %s\n", r, strerror(errno));
    // Clearing O_ASYNC stops the signals.
    char buf[4];
    read(sv[0], buf, sizeof buf);
    int before = got_rt;
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) & ~O_ASYNC);
    write(sv[1], "y", 1);
    usleep(20000);
    printf("after clearing O_ASYNC: %d\n", got_rt == before);
    return 0;
}
