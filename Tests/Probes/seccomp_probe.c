// Attacks the seccomp filter from inside a container: prints one line NAME=RESULT per
// attempt, RESULT being "ok" or the errno's name (EPERM, ENOSYS, ...). Built static by
// SeccompTests and copied into the image as /probe.
//   /probe            every check
//   /probe mkdir      only mkdir (for custom profiles)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long r) {
    if (r < 0) printf("%s=%s\n", name, strerrorname_np(errno));
    else printf("%s=ok\n", name);
    fflush(stdout);
}

// The first character of a /proc/PID/status field, e.g. Seccomp: ("0" unconfined, "2"
// filtered) or NoNewPrivs:.
static void status_field(const char *name, const char *path, const char *field) {
    char buf[8192];
    int fd = open(path, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0) close(fd);
    if (n < 0) { printf("%s=unreadable\n", name); return; }
    buf[n] = 0;
    char *p = strstr(buf, field);
    if (!p) { printf("%s=missing\n", name); return; }
    p += strlen(field);
    while (*p == ' ' || *p == '\t') p++;
    printf("%s=%c\n", name, *p);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "mkdir") == 0) {
        report("mkdir", mkdir("/probe-dir", 0755));
        return 0;
    }
    status_field("seccomp", "/proc/self/status", "\nSeccomp:");
    status_field("pid1_seccomp", "/proc/1/status", "\nSeccomp:");
    status_field("no_new_privs", "/proc/self/status", "\nNoNewPrivs:");
    printf("uid=%d\n", (int)getuid());

    // Ordinary calls.
    report("getpid", syscall(SYS_getpid));
    char buf[64];
    int fd = open("/etc/passwd", O_RDONLY);
    report("open", fd);
    report("read", fd >= 0 ? read(fd, buf, sizeof buf) : -1);
    pid_t child = fork();  // glibc: clone(SIGCHLD | CLONE_CHILD_*), no namespace flags
    if (child == 0) _exit(7);
    int st = 0;
    report("fork", child < 0 ? -1 : (waitpid(child, &st, 0) == child && WEXITSTATUS(st) == 7 ? 0 : (errno = EIO, -1)));
    report("personality_query", personality(0xffffffff));

    // Refused calls.
    report("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3 /* session */, 0));
    report("add_key", syscall(SYS_add_key, "user", "probe", "x", 1, -2 /* process keyring */));
    report("request_key", syscall(SYS_request_key, "user", "probe", NULL, 0));
    report("mount", syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, NULL));
    report("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
    report("perf_event_open", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
    char params[120];
    memset(params, 0, sizeof params);
    report("io_uring_setup", syscall(SYS_io_uring_setup, 1, params));
    report("personality_bsd", personality(0x0006 /* PER_BSD */));
    report("clone3", syscall(SYS_clone3, NULL, 0));
    // clone with a namespace flag, as a raw syscall (fork-like: child continues here).
    long r = syscall(SYS_clone, CLONE_NEWUTS | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) _exit(0);
    if (r > 0) waitpid((pid_t)r, &st, 0);
    report("clone_newuts", r);
    report("setns", syscall(SYS_setns, 0, CLONE_NEWNET));
    // Last: it succeeds without seccomp, and the probe is then in a new user namespace.
    report("unshare_user", syscall(SYS_unshare, CLONE_NEWUSER));
    return 0;
}
