// Container process creation and joining, done in C so that nothing between clone() and
// execve() runs Swift code in a child of a multithreaded process.
#ifndef BK_SPAWN_H
#define BK_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

// Why a child failed before (or at) execve. Reported to the parent over a CLOEXEC pipe.
typedef struct {
    int stage;          // BK_STAGE_* below; 0 = no failure
    int err;            // errno at the failing call
    char message[512];  // one line, e.g. "mount proc on /proc: Operation not permitted"
} bk_child_error;

enum {
    BK_STAGE_NONE = 0,
    BK_STAGE_SETUP = 1,      // namespaces, mounts, pivot_root, devices, hostname, cgroups
    BK_STAGE_SECURITY = 2,   // capabilities, no_new_privs, user/group
    BK_STAGE_CHDIR = 3,      // working directory
    BK_STAGE_EXEC = 4,       // execve: err ENOENT -> 127, EACCES/EISDIR/ENOEXEC/... -> 126
};

// One resource limit (RLIMIT_*), set in the child before execve.
typedef struct {
    int resource;
    uint64_t soft, hard;   // RLIM_INFINITY = unlimited
} bk_rlimit;

// Everything the container's first process needs. All strings are absolute host paths unless
// said otherwise. The caller keeps every pointer valid until bk_spawn_release() returns.
typedef struct {
    const char *rootfs;           // directory that becomes "/" (pivot_root target)
    const char *overlay_dir;      // if non-NULL, chdir here and mount overlay on rootfs with
    const char *overlay_options;  //   these options (lowerdir/upperdir/workdir may be relative)
    const char *hostname;
    const char *const *argv;      // NULL-terminated; argv[0] is searched in path_env if it has no '/'
    const char *const *envp;      // NULL-terminated
    const char *path_env;         // the container's PATH, used for the argv[0] lookup
    const char *workdir;          // inside the container; created if missing; NULL = "/"
    uint32_t uid, gid;            // in the container (0 = root)
    const char *user_name;        // if set: uid (and gid) from the container's /etc/passwd
    const char *group_name;       // if set: gid from the container's /etc/group
    int stdin_fd, stdout_fd, stderr_fd;  // dup2'd onto 0, 1, 2 in the child (-1 = /dev/null)
    uint64_t cap_keep;            // bit i set = keep capability i (bounding/permitted/effective)
    int die_with_parent;          // PR_SET_PDEATHSIG(SIGKILL)
    int new_netns;                // 1 = new network namespace (loopback brought up)
    const char *const *masked_paths;    // NULL-terminated; bind /dev/null (files) or ro tmpfs (dirs)
    const char *const *readonly_paths;  // NULL-terminated; remounted read-only
    // Direct mode (n_cgroup_fds > 0): the child writes itself into these open cgroup.procs
    // files and runs straight to execve, cloned with CLONE_VM|CLONE_VFORK so that no page
    // table is copied; bk_spawn_start returns once it has exec'd (or failed), and
    // bk_spawn_release only collects the result. At most 24 fds.
    const int *cgroup_fds;
    int n_cgroup_fds;
    // Network: with join_netns set, the child joins netns_fd (setns) instead of new_netns.
    int join_netns;
    int netns_fd;
    // Bind mounts (n of them): host path bind_sources[i] on container path bind_targets[i]
    // (absolute), made before pivot_root. bind_flags[i]: BK_BIND_* below. Missing targets are
    // created (a file or a directory, like the source); a symlink anywhere on the target's
    // path is refused, except that BK_BIND_REPLACE_LINK replaces a symlink at the target
    // itself with a plain file (bocker's own /etc/hosts and /etc/resolv.conf).
    const char *const *bind_sources;
    const char *const *bind_targets;
    const int *bind_flags;
    int n_binds;
    // PID 1 is a tiny init (this code, non-dumpable, privileges dropped like the command):
    // it forks the command, forwards signals to it, reaps every zombie, and exits with the
    // command's status.
    int use_init;
    // A pseudo-terminal: when tty_socket >= 0 the child opens a pty in the container's own
    // /dev/pts, sends the master over this socket (SCM_RIGHTS), and uses the slave as stdin,
    // stdout, stderr and controlling terminal (the stdio fds above are then ignored).
    int tty_socket;
    // Security options (all 0 = bocker's defaults).
    int allow_new_privs;          // 1: no PR_SET_NO_NEW_PRIVS (--security-opt no-new-privileges=false)
    int readonly_rootfs;          // 1: "/" is remounted read-only after pivot_root (--read-only)
    int sys_writable;             // 1: /sys is mounted read-write (--privileged)
    // Extra device nodes (`--device`) made in the container's /dev tmpfs: dev_paths[i] is the
    // path inside (under /dev/), dev_modes[i] S_IFCHR or S_IFBLK with the permission bits,
    // dev_numbers[i] the dev_t, owned by dev_uids[i]:dev_gids[i]. The device cgroup decides
    // whether they can be opened.
    const char *const *dev_paths;
    const uint32_t *dev_modes;
    const uint64_t *dev_numbers;
    const uint32_t *dev_uids;
    const uint32_t *dev_gids;
    int n_devs;
    // A user namespace of its own (--userns=auto): the child is cloned with CLONE_NEWUSER as
    // well (so the new namespace owns its mount, UTS, IPC, PID and, unless joined, network
    // namespaces; a joined netns_fd is entered by the cloning thread around clone instead).
    // Before releasing it the parent writes "0 userns_uid userns_size" into its uid_map (gid
    // likewise) and builds its mounts as host root, as detached mounts passed over the go
    // channel: the root (the image's layers idmapped to the new namespace: overlay_lowers under
    // overlay, else rootfs) and one per bind (bind_flags: BK_BIND_IDMAP idmaps it too). No
    // direct mode: the caller puts the child in its cgroups. At most BK_MAX_MOUNT_FDS - 1 binds.
    int userns;
    uint32_t userns_uid, userns_gid, userns_size;
    const char *const *overlay_lowers;  // absolute, top layer first; NULL = bind rootfs
    const char *overlay_upper, *overlay_work;
    // seccomp: a classic BPF program (an array of struct sock_filter, seccomp_filter_len bytes)
    // loaded with PR_SET_SECCOMP as the last step before execve; NULL = unconfined. With
    // allow_new_privs it is loaded before privileges are dropped instead, while CAP_SYS_ADMIN
    // still allows it (as runc does). The caller keeps it valid until the call returns.
    const void *seccomp_filter;
    size_t seccomp_filter_len;
    // Run flags (all 0/NULL: bocker's defaults).
    const char *shm_options;      // the /dev/shm tmpfs's options (--shm-size); NULL = "mode=1777,size=65536k"
    const bk_rlimit *rlimits;     // set (setrlimit) before privileges are dropped (--ulimit)
    int n_rlimits;
    // Namespaced sysctls (--sysctl), written right after /proc is mounted (before /proc/sys
    // is made read-only): sysctl_paths[i] below /proc/sys ("net/ipv4/ip_forward"), values.
    const char *const *sysctl_paths;
    const char *const *sysctl_values;
    int n_sysctls;
    // Share the host's namespace instead of a new one: --pid host, --uts host (no
    // sethostname then), --ipc host (the host's /dev/shm is bind-mounted on /dev/shm).
    int host_pid, host_uts, host_ipc;
    // Another container's namespaces (--pid/--ipc container:X); its /proc/PID/ns/* fds, opened
    // and checked by the caller (the record's pid and start time). join_pid: the cloning thread
    // enters pid_ns_fd around clone (the child is born in it; the thread goes back at once, so
    // nothing forked later is). join_ipc: the child enters ipc_ns_fd, and its /dev/shm is X's
    // (cloned with open_tree in X's mount namespace mnt_ns_fd). Not with userns.
    int join_pid, pid_ns_fd;
    int join_ipc, ipc_ns_fd, mnt_ns_fd;
    int no_shm;                   // --ipc none: no /dev/shm
} bk_spawn_config;

#define BK_MAX_MOUNT_FDS 64

// Receives the pty master the child sent over sock. The fd, or -1 with errno.
int bk_receive_fd(int sock);

enum {
    BK_BIND_READONLY = 1,
    BK_BIND_REPLACE_LINK = 2,
    BK_MOUNT_TMPFS = 4,     // not a bind: a fresh tmpfs (nosuid, nodev) on the target; its
                            // bind_sources entry is the tmpfs's options ("mode=1777,size=…")
    BK_BIND_IDMAP = 8,      // userns: idmapped like the root (bocker's own files look root's)
};

// A cloned child that is blocked until released.
typedef struct {
    pid_t pid;
    int sync_fd;    // parent end of the "go" channel (a socketpair: no SIGPIPE if the child died)
    int error_fd;   // parent end of the CLOEXEC error pipe
    int direct;     // started in direct mode: nothing to release, only the result to read
    int mount_fds[BK_MAX_MOUNT_FDS];  // userns: detached mounts sent with the go byte
    int n_mount_fds;
} bk_spawn_handle;

// Clones the child in new mount, UTS, IPC, PID (and network) namespaces. The child blocks
// until bk_spawn_release. Returns 0, or -1 with errno set and a message in err.
int bk_spawn_start(const bk_spawn_config *cfg, bk_spawn_handle *h, char *err, size_t errlen);

// Lets the child run its setup and execve. Returns 0 when execve succeeded; 1 when the child
// reported a failure (filled into *out; the child has been reaped, its status in *status);
// -1 on a parent-side error (errno set).
int bk_spawn_release(bk_spawn_handle *h, bk_child_error *out, int *status);

// Kills (SIGKILL) and reaps a child that was started but not released, closing the handle.
void bk_spawn_abort(bk_spawn_handle *h);

// Joins a running container (the process target_pid) and runs a command in it.
typedef struct {
    pid_t target_pid;
    const char *const *argv;
    const char *const *envp;
    const char *path_env;
    const char *workdir;          // NULL = "/"
    uint32_t uid, gid;
    const char *user_name;        // as in bk_spawn_config, looked up inside the container
    const char *group_name;
    int stdin_fd, stdout_fd, stderr_fd;  // -1 = inherit this process's fd
    uint64_t cap_keep;
    const char *const *cgroup_procs;  // NULL-terminated cgroup.procs files to join first (at most 24)
    int allow_new_privs;          // as in bk_spawn_config
    int timeout_ms;               // > 0: kill the command (its process group) after this long
    int join_userns;              // the container has a user namespace of its own: join it too
    const void *seccomp_filter;       // as in bk_spawn_config (loaded in the command)
    size_t seccomp_filter_len;
    int tty;                      // 1 (exec -t): a new pty in the container's devpts is the command's
                                  // stdio and controlling tty; the intermediate relays the caller's
                                  // stdin/stdout to and from its master
    int started_fd;               // >= 0 (exec -d): the byte '1' is written to it once the command
                                  // has exec'd (nothing on a start failure); -1: unused
    const bk_rlimit *rlimits;     // the container's --ulimit values, set in the command before
    int n_rlimits;                // privileges are dropped (as run's first process has them)
} bk_exec_config;

// Runs the command to completion. On success returns 0 and sets *exit_code (128+n for a
// signal); 2 when cfg->timeout_ms passed and the command was killed (*exit_code 137). Returns 1 when the command could not be started (*out filled; *exit_code 126/127
// or 125), -1 on a parent-side error (errno set, message in out->message).
int bk_exec_run(const bk_exec_config *cfg, int *exit_code, bk_child_error *out);

// Signals SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 received by this process are sent
// to pid until bk_forward_signals(0) restores the defaults.
void bk_forward_signals(pid_t pid);

// `run --sig-proxy=false`: those signals are ignored (neither forwarded nor fatal to this
// process, whose death would take the container along) until bk_forward_signals(0).
void bk_ignore_forwarded_signals(void);

// Waits for pid (retrying EINTR). Returns the exit code, or 128+signal; -1 if waitpid fails.
int bk_wait_exit_code(pid_t pid);

// Highest capability number the kernel knows (/proc/sys/kernel/cap_last_cap).
int bk_cap_last_cap(void);

// This process's capability bounding set (bit i = capability i).
uint64_t bk_cap_bounding_set(void);

#endif
