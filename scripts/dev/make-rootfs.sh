#!/bin/sh
# Builds a minimal busybox root filesystem in DIR from Debian's busybox-static.
# Usage: scripts/dev/make-rootfs.sh DIR
set -eu
dir=${1:?usage: make-rootfs.sh DIR}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-rootfs.sh: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/bin" "$dir/etc" "$dir/tmp" "$dir/root" "$dir/proc" "$dir/sys" "$dir/dev" "$dir/var/www"
chmod 1777 "$dir/tmp"
cp "$bb" "$dir/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$dir/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$dir/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$dir/etc/group"
printf 'NAME="bocker busybox"\nID=busybox\n' > "$dir/etc/os-release"
