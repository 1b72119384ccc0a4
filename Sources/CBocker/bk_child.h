// Internal helpers shared by spawn.c and exec.c: everything a child runs between clone()/fork()
// and execve(). The parent is a multithreaded Swift process, so every function declared here is
// async-signal-safe in practice: no malloc, no stdio, no locks, raw syscalls where the glibc
// wrapper would synchronise with other threads (setuid/setgid/setgroups broadcast to all threads).
#ifndef BK_CHILD_H
#define BK_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "bk_spawn.h"

// --- strings (no locale, no allocation) -------------------------------------------------------

size_t bk_strlen(const char *s);
// Appends src to dst (capacity cap, always NUL-terminated); returns dst.
char *bk_append(char *dst, size_t cap, const char *src);
// Appends the decimal form of v.
char *bk_append_long(char *dst, size_t cap, long v);
// strerror without locale or allocation (glibc's strerrordesc_np table).
const char *bk_errstr(int err);

// --- error reporting ---------------------------------------------------------------------------

// Writes a bk_child_error {stage, err, "what: strerror(err)"} (or just `what` when err is 0) to
// fd and _exits: 127 for ENOENT at the exec stage, 126 for other exec errors, else 125.
_Noreturn void bk_child_fail(int fd, int stage, int err, const char *what);
// Same with a preformatted message (no strerror appended).
_Noreturn void bk_child_fail_msg(int fd, int stage, int err, const char *message);

// --- processes ---------------------------------------------------------------------------------

// Closes every fd >= 3 that is not in keep[0..n) (negative entries ignored; n at most
// BK_MAX_KEEP_FDS). close_range, with a bounded close() loop as fallback (kernels < 5.9); both
// callers run it right after clone/fork, i.e. before pivot_root or setns.
#define BK_MAX_KEEP_FDS 48
void bk_close_fds_except(int *keep, int n);
// Resets every signal handler to SIG_DFL (the parent's Swift handlers must not run here).
void bk_reset_signal_handlers(void);
// Unblocks every signal.
void bk_unblock_all_signals(void);

// --- the last steps before execve, shared by the container's first process and exec -----------

typedef struct {
    const char *const *argv;
    const char *const *envp;
    const char *path_env;
    uint32_t uid, gid;
    uint64_t cap_keep;
    int cap_last;                 // bk_cap_last_cap(), read by the parent
    int stdio[3];                 // sources for 0, 1, 2; -1 = see null_for_missing
    int null_for_missing;         // 1: -1 means /dev/null (opened in the current root); 0: inherit
    int error_fd;
    int controlling_tty;          // 1: make fd 0 (a pty slave) the new session's controlling tty
    const void *seccomp_filter;   // BPF program (struct sock_filter[]), NULL = none
    size_t seccomp_filter_len;    // in bytes
    int allow_new_privs;          // 1: no no_new_privs; the seccomp filter is loaded before the drop
    int pdeathsig;                // non-zero: PR_SET_PDEATHSIG(pdeathsig), re-armed after setuid
    int parent_alive_fd;          // >= 0: write end of a pipe whose read end only the parent holds
} bk_final_config;

// Opens a pty in the current root's /dev/ptmx (the container's own devpts), sends the master
// to the parent over `sock` (SCM_RIGHTS) and returns the slave fd.
int bk_open_container_pty(int efd, int sock);

// Drops privileges (bounding set, ambient, groups/gid/uid, capset, no_new_privs). Fails via
// bk_child_fail on error. With allow_new_privs, loads the seccomp filter first (see below).
// Without it, the filter is loaded by bk_setup_stdio_and_exec right before execve.
void bk_drop_privileges(const bk_final_config *c);
// Loads c's seccomp filter (PR_SET_SECCOMP) if there is one; fails via bk_child_fail. Needs
// no_new_privs or CAP_SYS_ADMIN. Afterwards every system call, the child's own included, is
// filtered.
void bk_load_seccomp(const bk_final_config *c);
// dup2s the stdio fds, starts a new session (setsid: never the caller's terminal), marks every
// other fd close-on-exec, and execs argv (searching path_env
// when argv[0] has no '/'). Never returns: reports the exec failure and _exits.
_Noreturn void bk_setup_stdio_and_exec(const bk_final_config *c);
// chdir(dir) (after mkdir -p when create is set), refusing a working directory that is not
// reachable from the root or lies under /proc (CVE-2024-21626).
void bk_enter_workdir(int error_fd, const char *dir, int create);
// setrlimit for each of rl[0..n) (--ulimit), while CAP_SYS_RESOURCE is still held (raising a
// hard limit needs it); fails via bk_child_fail.
void bk_apply_rlimits(int error_fd, const bk_rlimit *rl, int n);
// Resolves user_name / group_name (either may be NULL) from /etc/passwd and /etc/group of the
// current root (the container's, after pivot_root or setns), updating *uid and *gid. Reads the
// files as data (never NSS). Fails via bk_child_fail when a name is not found.
void bk_resolve_user(int error_fd, const char *user_name, const char *group_name, uint32_t *uid, uint32_t *gid);

#endif
