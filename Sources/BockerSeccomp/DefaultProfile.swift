extension SeccompProfile {
    /// The namespace flags a container without CAP_SYS_ADMIN may not pass to clone:
    /// CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
    /// CLONE_NEWNET (0x7E020000).
    public static let cloneNamespaceFlags: UInt64 = 0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000
        | 0x1000_0000 | 0x2000_0000 | 0x4000_0000

    /// Docker's default profile (moby profiles/seccomp/default.json, as of Docker 25: io_uring
    /// no longer allowed). An allow-list: anything not named fails with EPERM. Namespaces,
    /// mounts, keyrings, BPF, perf, kernel modules, clock setting, reboot, ptrace of others and
    /// the like are allowed only with the capability that would make them useful; clone only
    /// without namespace flags (unless CAP_SYS_ADMIN), clone3 fails with ENOSYS so that libcs
    /// fall back to clone; personality only with the harmless values.
    public static let dockerDefault: SeccompProfile = {
        let allow = SeccompProfile.Action.allow
        func caps(_ names: String...) -> Condition { Condition(caps: names) }
        func arches(_ names: String...) -> Condition { Condition(arches: names) }
        var rules: [Rule] = [Rule(names: defaultAllowed, action: allow)]
        rules.append(Rule(names: ["process_vm_readv", "process_vm_writev", "ptrace"], action: allow,
                          includes: Condition(minKernel: "4.8")))
        // Any socket but AF_VSOCK (40).
        rules.append(Rule(names: ["socket"], action: allow, args: [Arg(index: 0, value: 40, op: .notEqual)]))
        // PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, and 0xffffffff (query).
        for persona: UInt64 in [0x0, 0x8, 0x20000, 0x20008, 0xffff_ffff] {
            rules.append(Rule(names: ["personality"], action: allow, args: [Arg(index: 0, value: persona, op: .equal)]))
        }
        rules.append(Rule(names: ["sync_file_range2", "swapcontext"], action: allow, includes: arches("ppc64le")))
        rules.append(Rule(names: ["arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint",
                                  "cacheflush", "set_tls"], action: allow, includes: arches("arm", "arm64")))
        rules.append(Rule(names: ["arch_prctl"], action: allow, includes: arches("amd64", "x32")))
        rules.append(Rule(names: ["modify_ldt"], action: allow, includes: arches("amd64", "x32", "x86")))
        rules.append(Rule(names: ["s390_pci_mmio_read", "s390_pci_mmio_write", "s390_runtime_instr"], action: allow,
                          includes: arches("s390", "s390x")))
        rules.append(Rule(names: ["riscv_flush_icache"], action: allow, includes: arches("riscv64")))
        rules.append(Rule(names: ["open_by_handle_at"], action: allow, includes: caps("CAP_DAC_READ_SEARCH")))
        rules.append(Rule(names: ["bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen", "fspick",
                                  "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
                                  "perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname",
                                  "setns", "syslog", "umount", "umount2", "unshare"],
                          action: allow, includes: caps("CAP_SYS_ADMIN")))
        // clone without namespace flags (flags are argument 0, on s390 argument 1).
        rules.append(Rule(names: ["clone"], action: allow,
                          args: [Arg(index: 0, value: cloneNamespaceFlags, valueTwo: 0, op: .maskedEqual)],
                          excludes: Condition(caps: ["CAP_SYS_ADMIN"], arches: ["s390", "s390x"])))
        rules.append(Rule(names: ["clone"], action: allow,
                          args: [Arg(index: 1, value: cloneNamespaceFlags, valueTwo: 0, op: .maskedEqual)],
                          includes: arches("s390", "s390x"), excludes: caps("CAP_SYS_ADMIN")))
        // clone3 passes its flags in memory seccomp cannot read: ENOSYS, and libcs use clone.
        rules.append(Rule(names: ["clone3"], action: .errno(38), excludes: caps("CAP_SYS_ADMIN")))
        rules.append(Rule(names: ["reboot"], action: allow, includes: caps("CAP_SYS_BOOT")))
        rules.append(Rule(names: ["chroot"], action: allow, includes: caps("CAP_SYS_CHROOT")))
        rules.append(Rule(names: ["delete_module", "init_module", "finit_module"], action: allow,
                          includes: caps("CAP_SYS_MODULE")))
        rules.append(Rule(names: ["acct"], action: allow, includes: caps("CAP_SYS_PACCT")))
        rules.append(Rule(names: ["kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
                                  "ptrace"], action: allow, includes: caps("CAP_SYS_PTRACE")))
        rules.append(Rule(names: ["iopl", "ioperm"], action: allow, includes: caps("CAP_SYS_RAWIO")))
        rules.append(Rule(names: ["settimeofday", "stime", "clock_settime", "clock_settime64"], action: allow,
                          includes: caps("CAP_SYS_TIME")))
        rules.append(Rule(names: ["vhangup"], action: allow, includes: caps("CAP_SYS_TTY_CONFIG")))
        rules.append(Rule(names: ["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], action: allow,
                          includes: caps("CAP_SYS_NICE")))
        rules.append(Rule(names: ["syslog"], action: allow, includes: caps("CAP_SYSLOG")))
        rules.append(Rule(names: ["bpf"], action: allow, includes: caps("CAP_BPF")))
        rules.append(Rule(names: ["perf_event_open"], action: allow, includes: caps("CAP_PERFMON")))
        return SeccompProfile(
            defaultAction: .errno(1),
            archMap: [
                ArchMapping(architecture: "SCMP_ARCH_X86_64", subArchitectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
                ArchMapping(architecture: "SCMP_ARCH_AARCH64", subArchitectures: ["SCMP_ARCH_ARM"]),
                ArchMapping(architecture: "SCMP_ARCH_MIPS64", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64N32"]),
                ArchMapping(architecture: "SCMP_ARCH_MIPS64N32", subArchitectures: ["SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64"]),
                ArchMapping(architecture: "SCMP_ARCH_MIPSEL64", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64N32"]),
                ArchMapping(architecture: "SCMP_ARCH_MIPSEL64N32", subArchitectures: ["SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64"]),
                ArchMapping(architecture: "SCMP_ARCH_S390X", subArchitectures: ["SCMP_ARCH_S390"]),
                ArchMapping(architecture: "SCMP_ARCH_RISCV64", subArchitectures: []),
            ],
            rules: rules)
    }()

    /// System calls every container may make, whatever its capabilities (the capability itself
    /// still guards what needs one). Not here, so refused with EPERM: keyctl, add_key,
    /// request_key, io_uring_*, userfaultfd, kexec_*, swapon/swapoff, pivot_root, name-space and
    /// mount calls (see the conditional rules), and everything newer that no one reviewed.
    static let defaultAllowed: [String] = """
        accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod chown chown32
        clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime clock_gettime64
        clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range creat dup dup2 dup3
        epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
        eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
        fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync
        fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync
        ftruncate ftruncate64 futex futex_requeue futex_time64 futex_wait futex_waitv futex_wake futimesat
        getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups
        getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid
        getresgid32 getresuid getresuid32 getrlimit get_robust_list getrusage getsid getsockname getsockopt
        get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init
        inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents
        io_pgetevents_time64 ioprio_get ioprio_set io_setup io_submit ipc kill landlock_add_rule
        landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr
        llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise map_shadow_stack membarrier
        memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect
        mq_getsetattr mq_notify mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend
        mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap
        name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open
        pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64
        preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read
        readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages
        removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending
        rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64
        rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max
        sched_get_priority_min sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64
        sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield seccomp select semctl
        semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid
        setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority
        setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid setreuid32 setrlimit
        set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat
        shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall
        socketpair splice stat stat64 statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs
        sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64
        timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime
        timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
        utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
        """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
}
