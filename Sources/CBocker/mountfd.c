// A container's overlay root as a detached mount (new mount API), for copying files of a
// stopped container without mounting anything anywhere. See bk_fs.h.
#define _GNU_SOURCE
#include "bk_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_FLAG 0
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 0x00000001
#endif
#ifndef FSMOUNT_CLOEXEC
#define FSMOUNT_CLOEXEC 0x00000001
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#endif

static int set_string(int fs, const char *key, const char *value) {
    return (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, key, value, 0);
}

int bk_overlay_detached(const char *const *lowers, int n, const char *upper, const char *work,
                        char *err, unsigned long errlen) {
    int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0) {
        snprintf(err, errlen, "fsopen overlay: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    // lowerdir+ (Linux 6.8) takes one layer per call: no page-size limit on the list.
    for (int i = 0; i < n && rc == 0; i++) rc = set_string(fs, "lowerdir+", lowers[i]);
    if (rc != 0 && errno == EINVAL) {
        size_t len = 1;
        for (int i = 0; i < n; i++) len += strlen(lowers[i]) + 1;
        char *joined = calloc(1, len);
        if (!joined) { close(fs); snprintf(err, errlen, "out of memory"); errno = ENOMEM; return -1; }
        for (int i = 0; i < n; i++) { if (i) strcat(joined, ":"); strcat(joined, lowers[i]); }
        close(fs);
        fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
        rc = fs < 0 ? -1 : set_string(fs, "lowerdir", joined);
        free(joined);
    }
    if (rc == 0) rc = set_string(fs, "upperdir", upper);
    if (rc == 0) rc = set_string(fs, "workdir", work);
    if (rc == 0) rc = (int)syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0);
    if (rc != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot mount the container's overlay: %s", strerror(e));
        if (fs >= 0) close(fs);
        errno = e;
        return -1;
    }
    int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV | MOUNT_ATTR_NOSUID);
    int e = errno;
    close(fs);
    if (mnt < 0) {
        snprintf(err, errlen, "fsmount overlay: %s", strerror(e));
        errno = e;
        return -1;
    }
    return mnt;
}
