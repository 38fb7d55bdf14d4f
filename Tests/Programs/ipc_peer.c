// A plain C peer for the IPC tests, run as a separate process: connects to the SEQPACKET listener at
// argv[1] and acts per argv[2]:
//   die     - receive one request, then SIGKILL itself (the caller must see the peer go away)
//   writefd - receive one request carrying one fd, write "written by peer" into it, reply (echo body)
//   ninefds - receive one request, reply with a header claiming 9 fds and 9 descriptors attached
//             (more than a Bulwark message may carry; the caller must refuse it and close them)
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: ipc_peer PATH die|writefd\n"); return 2; }
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) { perror("connect"); return 1; }
    unsigned char buf[4096];
    union { char bytes[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } control;
    struct iovec iov = { buf, sizeof(buf) };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.bytes,
                          .msg_controllen = sizeof(control.bytes) };
    ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 16) { fprintf(stderr, "short request\n"); return 1; }
    if (strcmp(argv[2], "die") == 0) {
        kill(getpid(), SIGKILL);
        pause();
    }
    if (strcmp(argv[2], "ninefds") == 0) {
        int fds[9];
        for (int i = 0; i < 9; i++) fds[i] = STDERR_FILENO;
        union { char bytes[CMSG_SPACE(sizeof(fds))]; struct cmsghdr align; } out;
        memset(&out, 0, sizeof(out));
        buf[6] |= 1;
        buf[12] = 9;
        struct iovec oiov = { buf, (size_t)n };
        struct msghdr reply = { .msg_iov = &oiov, .msg_iovlen = 1, .msg_control = out.bytes,
                                .msg_controllen = sizeof(out.bytes) };
        struct cmsghdr *oc = CMSG_FIRSTHDR(&reply);
        oc->cmsg_level = SOL_SOCKET;
        oc->cmsg_type = SCM_RIGHTS;
        oc->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(oc), fds, sizeof(fds));
        if (sendmsg(fd, &reply, MSG_NOSIGNAL) != n) { perror("sendmsg"); return 1; }
        char byte;
        (void)read(fd, &byte, 1);   // wait until the caller closes the connection
        return 0;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_type != SCM_RIGHTS) { fprintf(stderr, "no fd\n"); return 1; }
    int passed;
    memcpy(&passed, CMSG_DATA(c), sizeof(int));
    const char *text = "written by peer";
    if (write(passed, text, strlen(text)) != (ssize_t)strlen(text)) { perror("write"); return 1; }
    close(passed);
    // Reply: same frame with the reply flag (bit 0 of the u16 flags at offset 6) and no fds.
    buf[6] |= 1;
    buf[12] = 0;
    if (send(fd, buf, (size_t)n, MSG_NOSIGNAL) != n) { perror("send"); return 1; }
    return 0;
}
