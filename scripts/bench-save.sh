#!/usr/bin/env bash
# Benchmark (not a test): `bocker save` of a ~100 MB image (busybox, 5,000 small files, 3 x 30 MB
# of random data; gzip layers), paired in the same run with `skopeo copy` of the same image from
# an OCI layout (no daemon, no containers-storage: the closest skopeo gets to "save"):
#   docker-archive:  bocker save            vs  skopeo copy oci:DIR docker-archive:FILE
#   oci-archive:     bocker save --format oci-archive  vs  skopeo copy oci:DIR oci-archive:FILE
# bocker gets the image with `bocker load` of the same layout (its blobs kept as they are), so
# both sides start from the same gzip blobs. The output file is removed before every run.
# Usage: sudo scripts/bench-save.sh [-n RUNS]        BOCKER_BIN overrides the binary.
# Measured 2026-12-03 (release, 2 shared cores, -n 3): skopeo / bocker 8.47x wall for
# docker-archive, 6.88x for oci-archive (bocker writes the stored blobs as they are).
set -euo pipefail
# shellcheck source=scripts/dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/dev/common.sh"
need_root "$0" "$@"

runs=5
[[ "${1:-}" == "-n" ]] && runs=${2:?-n needs a number}

in_private_netns "$0" "$@"

bocker=${BOCKER_BIN:-$(command -v bocker || echo "$BOCKER_REPO/.build/release/bocker")}
reg="$BOCKER_REPO/scripts/dev/registry"
work=$(mktemp -d /tmp/bench-save.XXXXXX)
cleanup() {
    set +e
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT

echo "==> building the image (busybox + 5,000 small files, 3 x 30 MB of random data)"
make_small_files "$work/small"
layers=(--layer "c:bin/busybox=/bin/busybox;l:bin/sh->busybox;l:bin/cat->busybox" --layer "$work/small"
        --layer "r:data/a=31457280" --layer "r:data/b=31457280" --layer "r:data/c=31457280")
python3 "$reg/make-image.py" "$work/gz" --tag latest --compression gzip "${layers[@]}" >/dev/null
# bocker loads the same layout (as an OCI archive) and keeps its blobs.
(cd "$work/gz" && tar cf "$work/gz.tar" .)
export BOCKER_ROOT=$work/root
mkdir -p "$work/root"
id=$("$bocker" load -i "$work/gz.tar" | sed -n 's/^Loaded image ID: //p')
"$bocker" tag "$id" bench/big:1
echo "    image: $(du -sh "$work/gz/blobs" | cut -f1) of blobs"

declare -A times=() cpus=()

fresh_out() { rm -f "$work/out.tar"; }
bocker_docker() { "$bocker" save -o "$work/out.tar" bench/big:1; }
skopeo_docker() { skopeo copy "oci:$work/gz:latest" "docker-archive:$work/out.tar:bench/big:1"; }
bocker_oci() { "$bocker" save --format oci-archive -o "$work/out.tar" bench/big:1; }
skopeo_oci() { skopeo copy "oci:$work/gz:latest" "oci-archive:$work/out.tar:bench/big:1"; }

echo "==> $runs runs each, paired"
kinds=("bocker save (docker-archive)" "skopeo copy oci: → docker-archive:" "bocker save --format oci-archive" "skopeo copy oci: → oci-archive:")
for ((r = 0; r < runs; r++)); do
    runs_saved=$runs; runs=1
    timeit "${kinds[0]} #$r" fresh_out bocker_docker
    timeit "${kinds[1]} #$r" fresh_out skopeo_docker
    timeit "${kinds[2]} #$r" fresh_out bocker_oci
    timeit "${kinds[3]} #$r" fresh_out skopeo_oci
    runs=$runs_saved
done
echo
for kind in "${kinds[@]}"; do
    m=$(for ((r = 0; r < runs; r++)); do echo "${times["$kind #$r"]}"; done | median)
    c=$(for ((r = 0; r < runs; r++)); do echo "${cpus["$kind #$r"]}"; done | median)
    times[$kind]=$m
    cpus[$kind]=$c
    printf '  %-44s median %6s ms wall, %6s ms cpu\n' "$kind" "$m" "$c"
done
awk -v a="${times[${kinds[0]}]}" -v b="${times[${kinds[1]}]}" -v c="${times[${kinds[2]}]}" -v d="${times[${kinds[3]}]}" \
    'BEGIN { printf "wall: docker-archive skopeo / bocker %.2fx   oci-archive skopeo / bocker %.2fx\n", b / a, d / c }'
awk -v a="${cpus[${kinds[0]}]}" -v b="${cpus[${kinds[1]}]}" -v c="${cpus[${kinds[2]}]}" -v d="${cpus[${kinds[3]}]}" \
    'BEGIN { printf "cpu:  docker-archive skopeo / bocker %.2fx   oci-archive skopeo / bocker %.2fx\n", (a ? b / a : 0), (c ? d / c : 0) }'
