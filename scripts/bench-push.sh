#!/usr/bin/env bash
# Benchmark (not a test): `bocker push` of a 4-layer image (~100 MB: busybox + 5,000 small
# files, 3 x 30 MB of random data) to a local registry, paired in the same run with
# `skopeo copy` of the same layers to the same (emptied) registry:
#   upload only:   bocker push of the pulled image (blobs ready)  vs  skopeo copy oci:(gzip) → docker://
#   pack + upload: bocker push of an image made here (layers tarred and gzipped at push, in
#                  parallel)  vs  skopeo copy oci:(uncompressed) → docker:// --dest-compress
# The destination registry is restarted with empty storage before every run. Everything runs
# in a private network namespace on 127.0.0.1 and is removed at the end.
# Usage: sudo scripts/bench-push.sh [-n RUNS]        BOCKER_BIN overrides the binary.
# Measured 2026-12-03 (release, 2 shared cores, -n 3, medians): upload only 909 ms vs skopeo
# 1763 ms (0.52x wall, 0.25x cpu); pack + upload 1903 ms / 740 ms cpu vs skopeo 2074 ms / 960 ms
# (0.92x wall, 0.77x cpu; before stored blocks for incompressible windows: 2.26x wall, 3.3 s cpu).
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"
need_root "$0" "$@"

runs=5
[[ "${1:-}" == "-n" ]] && runs=${2:?-n needs a number}

in_private_netns "$0" "$@"

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
reg="$BOCKER_REPO/scripts/dev/registry"
work=$(mktemp -d /tmp/bench-push.XXXXXX)
cleanup() {
    set +e
    "$reg/registry.sh" stop "$work/src" >/dev/null 2>&1
    "$reg/registry.sh" stop "$work/dst" >/dev/null 2>&1
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "==> building the image (4 layers: busybox + 5,000 small files, 3 x 30 MB of random data)"
make_small_files "$work/small"
layers=(--layer "c:bin/busybox=/bin/busybox;l:bin/sh->busybox;l:bin/cat->busybox" --layer "$work/small"
        --layer "r:data/a=31457280" --layer "r:data/b=31457280" --layer "r:data/c=31457280")
python3 "$reg/make-image.py" "$work/gz" --tag latest --compression gzip "${layers[@]}" >/dev/null
python3 "$reg/make-image.py" "$work/plain" --tag latest --compression none "${layers[@]}" >/dev/null
eval "$("$reg/registry.sh" start "$work/src")"
src_port=$PORT
"$reg/registry.sh" push "$work/src" "$work/gz:latest" bench/big:1 >/dev/null

export BOCKER_ROOT=$work/root
mkdir -p "$work/root"
# The pulled image (its blobs kept), and the same content made here: init + commits.
"$bocker" pull -q "127.0.0.1:$src_port/bench/big:1" >/dev/null
mkdir -p "$work/localsrc/bin" "$work/localsrc/data"
cp /bin/busybox "$work/localsrc/bin/"; ln -s busybox "$work/localsrc/bin/sh"; ln -s busybox "$work/localsrc/bin/cat"
cp -a "$work/small/." "$work/localsrc/"
local_id=$("$bocker" init "$work/localsrc" | sed -n 's/^Created: //p')
for f in a b c; do
    cid=$("$bocker" run -d "$local_id" /bin/sh -c "head -c 31457280 /dev/urandom > /data/$f")
    "$bocker" wait "$cid" >/dev/null
    local_id=$("$bocker" commit "$cid" "local/big:$f" | sed -n 's/^Created: //p')
    "$bocker" rm "$cid" >/dev/null
done

declare -A times=() cpus=()

dst_port=""
fresh_dst() {
    "$reg/registry.sh" stop "$work/dst" >/dev/null 2>&1 || true
    eval "$("$reg/registry.sh" start "$work/dst")"
    dst_port=$PORT
}
# A local image's layer blobs are made at its first push and kept: forget them for a cold push.
fresh_local() {
    fresh_dst
    python3 - "$work/root" <<'PY'
import glob, json, os, sys
root = sys.argv[1]
for f in glob.glob(root + "/layers/*/layer.json"):
    j = json.load(open(f))
    if j.get("origin", "").startswith(("init", "commit")) and j.pop("blob", None):
        json.dump(j, open(f, "w"))
for f in glob.glob(root + "/images/*.json"):
    j = json.load(open(f))
    if j.get("source", "").startswith("local/") or j.get("source", "").startswith("/"):
        for k in ("manifest", "manifestMediaType", "configDigest", "layerBlobs"):
            j.pop(k, None)
        json.dump(j, open(f, "w"))
PY
}
push_pulled() { "$bocker" tag "127.0.0.1:$src_port/bench/big:1" "127.0.0.1:$dst_port/bench/pulled:1" && "$bocker" push -q "127.0.0.1:$dst_port/bench/pulled:1"; }
skopeo_gz() { skopeo copy --dest-tls-verify=false "oci:$work/gz:latest" "docker://127.0.0.1:$dst_port/bench/sk:1"; }
skopeo_plain() { skopeo copy --dest-compress --dest-tls-verify=false "oci:$work/plain:latest" "docker://127.0.0.1:$dst_port/bench/skc:1"; }
push_local() { "$bocker" tag local/big:c "127.0.0.1:$dst_port/bench/local:1" && "$bocker" push -q "127.0.0.1:$dst_port/bench/local:1"; }

echo "==> $runs runs each, paired (the destination registry is emptied before each run)"
for ((r = 0; r < runs; r++)); do
    runs_saved=$runs; runs=1
    timeit "bocker push, pulled image (upload) #$r" fresh_dst push_pulled
    timeit "skopeo copy oci:gzip → registry #$r" fresh_dst skopeo_gz
    timeit "bocker push, local image (pack+upload) #$r" fresh_local push_local
    timeit "skopeo copy oci:plain --dest-compress #$r" fresh_dst skopeo_plain
    runs=$runs_saved
done
echo
for kind in "bocker push, pulled image (upload)" "skopeo copy oci:gzip → registry" \
            "bocker push, local image (pack+upload)" "skopeo copy oci:plain --dest-compress"; do
    m=$(for ((r = 0; r < runs; r++)); do echo "${times["$kind #$r"]}"; done | median)
    c=$(for ((r = 0; r < runs; r++)); do echo "${cpus["$kind #$r"]}"; done | median)
    times[$kind]=$m
    cpus[$kind]=$c
    printf '  %-44s median %6s ms wall, %6s ms cpu\n' "$kind" "$m" "$c"
done
awk -v a="${times["bocker push, pulled image (upload)"]}" -v b="${times["skopeo copy oci:gzip → registry"]}" \
    -v c="${times["bocker push, local image (pack+upload)"]}" -v d="${times["skopeo copy oci:plain --dest-compress"]}" \
    'BEGIN { printf "wall: upload only bocker / skopeo %.2fx   pack + upload bocker / skopeo %.2fx\n", a / b, c / d }'
awk -v a="${cpus["bocker push, pulled image (upload)"]}" -v b="${cpus["skopeo copy oci:gzip → registry"]}" \
    -v c="${cpus["bocker push, local image (pack+upload)"]}" -v d="${cpus["skopeo copy oci:plain --dest-compress"]}" \
    'BEGIN { printf "cpu:  upload only bocker / skopeo %.2fx   pack + upload bocker / skopeo %.2fx\n", a / b, c / d }'
