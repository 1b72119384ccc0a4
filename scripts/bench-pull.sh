#!/usr/bin/env bash
# Benchmark (not a test): `bocker pull` of a multi-layer image (>100 MB compressed, thousands
# of files) from a local registry, beside `skopeo copy` to an oci: directory (download only),
# `podman pull` where installed, and the floor: curl of every blob + `tar -xzf` of the layers
# in order, on the same filesystem. Everything runs in a private network namespace with its
# own registry on 127.0.0.1, and is removed at the end.
# Usage: sudo scripts/bench-pull.sh [-n RUNS]        BOCKER_BIN overrides the binary.
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"
need_root "$0" "$@"

runs=5
[[ "${1:-}" == "-n" ]] && runs=${2:?-n needs a number}

in_private_netns "$0" "$@"

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
reg="$BOCKER_REPO/scripts/dev/registry"
work=$(mktemp -d /tmp/bench-pull.XXXXXX)
cleanup() {
    set +e
    "$reg/registry.sh" stop "$work/registry" >/dev/null 2>&1
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "==> building the image (4 layers: busybox + 5,000 small files, 3 x 35 MB of random data)"
make_small_files "$work/small"
python3 "$reg/make-image.py" "$work/layout" --tag latest \
    --layer "c:bin/busybox=/bin/busybox;l:bin/sh->busybox" --layer "$work/small" \
    --layer "r:data/a=36700160" --layer "r:data/b=36700160" --layer "r:data/c=36700160" >"$work/summary.json"
eval "$("$reg/registry.sh" start "$work/registry")"
"$reg/registry.sh" push "$work/registry" "$work/layout:latest" bench/big:1 >/dev/null
ref="127.0.0.1:$PORT/bench/big:1"
python3 - "$work/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
layers = s["images"][0]["layers"]
print("    %.1f MB compressed in %d layers" % (sum(l["size"] for l in layers) / 1e6, len(layers)))
PY

declare -A times=() cpus=()

fresh_bocker() { rm -rf --one-file-system "$work/root"; mkdir -p "$work/root"; }
fresh_oci() { rm -rf "$work/oci"; }
fresh_tar() { rm -rf "$work/floor"; mkdir -p "$work/floor/blobs" "$work/floor/rootfs"; }
floor() {
    local d
    for d in $(python3 -c 'import json,sys; [print(l["digest"]) for l in json.load(open(sys.argv[1]))["images"][0]["layers"]]' "$work/summary.json"); do
        curl -sf -o "$work/floor/blobs/${d#sha256:}" "http://127.0.0.1:$PORT/v2/bench/big/blobs/$d"
    done
    for d in $(python3 -c 'import json,sys; [print(l["digest"]) for l in json.load(open(sys.argv[1]))["images"][0]["layers"]]' "$work/summary.json"); do
        tar -xzf "$work/floor/blobs/${d#sha256:}" -C "$work/floor/rootfs"
    done
}

echo "==> $runs runs each (the store, the oci dir and the floor's dir are emptied before each run)"
export BOCKER_ROOT=$work/root
timeit "bocker pull" fresh_bocker "$bocker" pull "$ref"
timeit "skopeo copy (no unpack)" fresh_oci skopeo copy --src-tls-verify=false "docker://$ref" "oci:$work/oci:big"
timeit "floor: curl + tar -xzf in order" fresh_tar floor
if command -v podman >/dev/null 2>&1; then
    timeit "podman pull" true podman --root "$work/podman" pull --tls-verify=false "$ref"
fi
b=${times["bocker pull"]} f=${times["floor: curl + tar -xzf in order"]} s=${times["skopeo copy (no unpack)"]}
echo
awk -v b="$b" -v f="$f" -v s="$s" 'BEGIN { printf "bocker pull / floor: %.2fx   bocker pull / skopeo copy: %.2fx\n", b / f, b / s }'
