// libseccomp (Debian's libseccomp-dev): building seccomp filters and exporting them as BPF.
#include <seccomp.h>
