// Loading and attaching cgroup device programs (see bk_bpf.h).
#define _GNU_SOURCE
#include "bk_bpf.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static long bk_bpf(int cmd, union bpf_attr *attr) {
    return syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

int bk_bpf_attach_device_program(const char *cgroup_path, const uint64_t *insns, int n,
                                 char *err, size_t errlen) {
    if (err && errlen) err[0] = 0;
    int cg = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) {
        int e = errno;
        if (err) snprintf(err, errlen, "open %s: %s", cgroup_path, strerror(e));
        errno = e;
        return -1;
    }
    char log[8192];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    a.insns = (uint64_t)(uintptr_t)insns;
    a.insn_cnt = (uint32_t)n;
    a.license = (uint64_t)(uintptr_t)"Apache";
    a.log_buf = (uint64_t)(uintptr_t)log;
    a.log_size = sizeof log;
    a.log_level = 1;
    log[0] = 0;
    int prog = (int)bk_bpf(BPF_PROG_LOAD, &a);
    if (prog < 0 && errno == ENOSPC) {
        // The log did not fit: load again without one, to get the real error.
        a.log_buf = 0; a.log_size = 0; a.log_level = 0;
        prog = (int)bk_bpf(BPF_PROG_LOAD, &a);
    }
    if (prog < 0) {
        int e = errno;
        if (err) {
            // The verifier's last line says why.
            size_t len = strnlen(log, sizeof log);
            while (len > 0 && log[len - 1] == '\n') log[--len] = 0;
            char *last = len ? strrchr(log, '\n') : NULL;
            snprintf(err, errlen, "load the device program: %s%s%s", strerror(e),
                     len ? ": " : "", len ? (last ? last + 1 : log) : "");
        }
        close(cg);
        errno = e;
        return -1;
    }
    memset(&a, 0, sizeof a);
    a.target_fd = (uint32_t)cg;
    a.attach_bpf_fd = (uint32_t)prog;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    int rc = (int)bk_bpf(BPF_PROG_ATTACH, &a);
    int e = errno;
    close(prog);   // the cgroup keeps its own reference
    close(cg);
    if (rc != 0) {
        if (err) snprintf(err, errlen, "attach the device program to %s: %s", cgroup_path, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

int bk_bpf_count_device_programs(const char *cgroup_path) {
    int cg = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cg < 0) return -1;
    uint32_t ids[64];
    union bpf_attr a;
    memset(&a, 0, sizeof a);
    a.query.target_fd = (uint32_t)cg;
    a.query.attach_type = BPF_CGROUP_DEVICE;
    a.query.prog_ids = (uint64_t)(uintptr_t)ids;
    a.query.prog_cnt = 64;
    int rc = (int)bk_bpf(BPF_PROG_QUERY, &a);
    int e = errno;
    close(cg);
    if (rc != 0) { errno = e; return -1; }
    return (int)a.query.prog_cnt;
}
