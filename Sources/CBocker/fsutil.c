#define _GNU_SOURCE
#include "bk_util.h"

#include <fcntl.h>
#include <unistd.h>

int bk_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}
