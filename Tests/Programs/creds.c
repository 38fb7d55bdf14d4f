// Credentials and capabilities as a container's init sees them, and what they allow: printed the same
// way under runc and under bulwark so the two outputs can be compared line by line.
// Runs as pid 1 with /tmp a writable tmpfs (mode 1777) and /proc mounted.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *result(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }
#define TRY(name, call) printf("  %s=%s\n", name, result((long)(call)))

static void show(const char *tag) {
    uid_t r, e, s; gid_t gr, ge, gs;
    getresuid(&r, &e, &s); getresgid(&gr, &ge, &gs);
    printf("%s: uid=%u/%u/%u fsuid=%d gid=%u/%u/%u groups=", tag, r, e, s, setfsuid(-1), gr, ge, gs);
    gid_t g[64];
    int n = getgroups(64, g);
    for (int i = 0; i < n; i++) printf("%u,", g[i]);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) { printf(" capget=%s\n", strerrorname_np(errno)); return; }
    unsigned long long bnd = 0, amb = 0;
    for (int c = 0; c <= 40; c++) {
        if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1) bnd |= 1ULL << c;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1) amb |= 1ULL << c;
    }
    printf(" eff=%llx prm=%llx inh=%llx bnd=%llx amb=%llx nnp=%d keepcaps=%d\n",
           d[0].effective | (unsigned long long)d[1].effective << 32,
           d[0].permitted | (unsigned long long)d[1].permitted << 32,
           d[0].inheritable | (unsigned long long)d[1].inheritable << 32, bnd, amb,
           prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0));
}

static void status(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) { printf("status: %s\n", strerrorname_np(errno)); return; }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) || !strncmp(line, "Groups:", 7) ||
            !strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11)) printf("  %s", line);
    }
    fclose(f);
}

static int setEffective(unsigned long long eff) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) return -1;
    d[0].effective = (unsigned)eff; d[1].effective = (unsigned)(eff >> 32);
    return (int)syscall(SYS_capset, &h, d);
}

static unsigned long long effective(void) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) return 0;
    return d[0].effective | (unsigned long long)d[1].effective << 32;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc > 1 && !strcmp(argv[1], "exec-report")) {   // run through /creds-suid (set-user-id root)
        show("after-exec");
        printf("  at_secure=%lu\n", getauxval(AT_SECURE));
        return 0;
    }
    show("init");
    status();
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("nofile=%llu/%llu\n", (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);

    printf("as init:\n");
    int fd = open("/tmp/root-only", O_CREAT | O_WRONLY, 0600);
    close(fd);
    TRY("chown", chown("/tmp/root-only", 1234, 1234));
    TRY("chown-back", chown("/tmp/root-only", 0, 0));
    TRY("mknod-chr", mknod("/tmp/null2", S_IFCHR | 0666, makedev(1, 3)));
    TRY("sethostname", sethostname("other", 5));
    TRY("mount-tmpfs", mount("none", "/mnt", "tmpfs", 0, NULL));
    unsigned long long e = effective();
    TRY("capset-drop-chown", setEffective(e & ~1ULL));
    TRY("chown-without", chown("/tmp/root-only", 1234, 1234));
    TRY("capset-raise-chown", setEffective(e));
    TRY("chown-with", chown("/tmp/root-only", 0, 0));
    TRY("capset-raise-unpermitted", setEffective(e | (1ULL << 16)));
    printf("  capget-bad-version=%s\n", ({
        struct __user_cap_header_struct h = {0x12345678, 0};
        struct __user_cap_data_struct d[2];
        long r = syscall(SYS_capget, &h, d);
        static char b[64]; snprintf(b, sizeof b, "%s/%x", result(r), h.version); b;
    }));
    TRY("capbset-drop-sys-module", prctl(PR_CAPBSET_DROP, 16, 0, 0, 0));
    printf("  capbset-read-sys-module=%d\n", prctl(PR_CAPBSET_READ, 16, 0, 0, 0));
    TRY("capbset-read-bad", prctl(PR_CAPBSET_READ, 99, 0, 0, 0));

    // A child gives up root: supplementary groups, then gids, then uids.
    pid_t p = fork();
    if (p == 0) {
        gid_t groups[] = {5, 7};
        TRY("setgroups", setgroups(2, groups));
        TRY("setresgid", setresgid(100, 100, 100));
        TRY("setresuid", setresuid(1000, 1000, 1000));
        show("nobody");
        TRY("setuid-0", setuid(0));
        TRY("setgroups-again", setgroups(0, NULL));
        TRY("kill-parent", kill(getppid(), 0));
        TRY("open-root-only", open("/tmp/root-only", O_RDONLY));
        int f2 = open("/tmp/mine", O_CREAT | O_WRONLY, 0644);
        TRY("create-own", f2);
        close(f2);
        TRY("chown-own-to-member-group", chown("/tmp/mine", -1, 7));
        TRY("chown-own-to-other-group", chown("/tmp/mine", -1, 8));
        TRY("chown-own-to-other-user", chown("/tmp/mine", 0, -1));
        TRY("chmod-root-file", chmod("/tmp/root-only", 0666));
        _exit(0);
    }
    waitpid(p, NULL, 0);

    // Another keeps its permitted set across the uid change (PR_SET_KEEPCAPS), then re-raises one.
    p = fork();
    if (p == 0) {
        TRY("keepcaps", prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0));
        TRY("setresuid", setresuid(1000, 1000, 1000));
        show("kept");
        TRY("raise-chown", setEffective(1ULL << 0));
        TRY("chown-kept", chown("/tmp/root-only", 1000, -1));
        _exit(0);
    }
    waitpid(p, NULL, 0);

    // setreuid/setfsuid: the saved id follows, and the filesystem id moves alone.
    p = fork();
    if (p == 0) {
        TRY("setreuid", setreuid(1000, 2000));
        show("re");
        TRY("setreuid-back", setreuid(-1, 1000));
        show("re2");
        _exit(0);
    }
    waitpid(p, NULL, 0);
    p = fork();
    if (p == 0) {
        printf("  setfsuid=%d\n", setfsuid(3000));
        show("fs");
        TRY("chown-after-fs", chown("/tmp/root-only", 0, 0));
        _exit(0);
    }
    waitpid(p, NULL, 0);

    // A set-user-id root program run as uid 1000 (no effect under no_new_privs).
    p = fork();
    if (p == 0) {
        if (getuid() == 0) { setgroups(0, NULL); setresgid(100, 100, 100); setresuid(1000, 1000, 1000); }
        execl("/creds-suid", "creds-suid", "exec-report", (char *)NULL);
        printf("  exec-suid=%s\n", strerrorname_np(errno));
        _exit(1);
    }
    waitpid(p, NULL, 0);
    return 0;
}
