// eBPF for cgroup v2 device control: load a BPF_PROG_TYPE_CGROUP_DEVICE program (assembled by
// the caller, BockerCgroups' DeviceFilter) and attach it to a cgroup directory.
#ifndef BK_BPF_H
#define BK_BPF_H

#include <stddef.h>
#include <stdint.h>

// Loads `n` 8-byte instructions (struct bpf_insn, in host byte order) as a cgroup device
// program and attaches it to the cgroup directory `cgroup_path` (BPF_CGROUP_DEVICE,
// BPF_F_ALLOW_MULTI, as runc does). The cgroup holds the program from then on; it goes away
// with the cgroup. Returns 0, or -1 with errno and a message (the verifier's log when it
// refused the program) in err.
int bk_bpf_attach_device_program(const char *cgroup_path, const uint64_t *insns, int n,
                                 char *err, size_t errlen);

// How many programs of attach type BPF_CGROUP_DEVICE are attached to the cgroup directly
// (BPF_PROG_QUERY), or -1 with errno.
int bk_bpf_count_device_programs(const char *cgroup_path);

#endif
