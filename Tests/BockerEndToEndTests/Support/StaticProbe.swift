import Glibc

/// Small C programs compiled with `cc -static` for attacking a defence from inside a container
/// (the busybox image has no compiler and no libc of its own).
enum StaticProbe {
    /// Compiles `source` into `<dir>/<name>` (a static binary); throws with the compiler's output.
    static func build(_ source: String, name: String, into dir: String, tmp: String) throws {
        let src = tmp + "/" + name + ".c"
        try Host.writeFile(src, source)
        let r = runTool(["cc", "-static", "-O", "-o", dir + "/" + name, src])
        guard r.status == 0 else { throw FixtureError(description: "cc -static \(src) failed: \(r)") }
    }

    /// An image: a private copy of the fixture's busybox rootfs with the probes compiled into `/`.
    static func image(_ f: BockerFixture, probes: [String: String]) throws -> String {
        let dir = f.tmp + "/probe-rootfs-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        let cp = runTool(["cp", "-a", f.rootfs, dir])
        guard cp.status == 0 else { throw FixtureError(description: "cp -a \(f.rootfs) \(dir) failed: \(cp)") }
        for (name, source) in probes { try build(source, name: name, into: dir, tmp: f.tmp) }
        return try f.initImage(dir)
    }

    /// Tries every way into a terminal: open("/dev/tty") (must fail with ENXIO), TIOCSTI on fds
    /// 0..20 and on every /proc/*/fd/* it can open (must fail; a tty among them is reported),
    /// and whether it leads its own session. Last line: "RESULT: CONFINED" or "RESULT: EXPOSED".
    /// `--own-fds` skips /proc: never walk /proc outside a container (root's TIOCSTI works on
    /// every terminal of the machine).
    static let tty = #"""
    #define _GNU_SOURCE
    #include <dirent.h>
    #include <errno.h>
    #include <fcntl.h>
    #include <stdio.h>
    #include <string.h>
    #include <sys/ioctl.h>
    #include <unistd.h>
    int main(int argc, char **argv) {
        int bad = 0;
        int walk_proc = !(argc > 1 && strcmp(argv[1], "--own-fds") == 0);
        char c = ' ';
        setvbuf(stdout, NULL, _IONBF, 0);
        int t = open("/dev/tty", O_RDWR);
        if (t >= 0) {
            bad = 1;
            printf("devtty: opened (tiocsti %s)\n", ioctl(t, TIOCSTI, &c) == 0 ? "WORKS" : strerror(errno));
            close(t);
        } else {
            printf("devtty: %s\n", errno == ENXIO ? "ENXIO" : strerror(errno));
            if (errno != ENXIO) bad = 1;
        }
        for (int fd = 0; fd <= 20; fd++) {
            if (fcntl(fd, F_GETFD) < 0) continue;
            int tty = isatty(fd);
            int r = ioctl(fd, TIOCSTI, &c);
            if (tty || r == 0) { bad = 1; printf("fd %d: tty=%d tiocsti=%s\n", fd, tty, r == 0 ? "WORKS" : strerror(errno)); }
        }
        DIR *proc = walk_proc ? opendir("/proc") : NULL;
        struct dirent *p;
        while (proc && (p = readdir(proc))) {
            if (p->d_name[0] < '0' || p->d_name[0] > '9') continue;
            char dir[300];
            snprintf(dir, sizeof dir, "/proc/%s/fd", p->d_name);
            DIR *d = opendir(dir);
            struct dirent *e;
            while (d && (e = readdir(d))) {
                if (e->d_name[0] == '.') continue;
                char path[600];
                snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
                int fd = open(path, O_RDWR | O_NOCTTY);
                if (fd < 0) fd = open(path, O_RDONLY | O_NOCTTY);
                if (fd < 0) continue;
                int tty = isatty(fd);
                int r = ioctl(fd, TIOCSTI, &c);
                if (tty || r == 0) { bad = 1; printf("%s: tty=%d tiocsti=%s\n", path, tty, r == 0 ? "WORKS" : "fails"); }
                close(fd);
            }
            if (d) closedir(d);
        }
        pid_t sid = getsid(0);
        printf("session: sid=%d pid=%d\n", (int)sid, (int)getpid());
        if (sid != getpid()) bad = 1;
        printf("RESULT: %s\n", bad ? "EXPOSED" : "CONFINED");
        return bad;
    }
    """#
}
