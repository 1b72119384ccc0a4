#!/usr/bin/env bash
# An offline OCI registry for tests: Debian's docker-registry (distribution 2.8) on 127.0.0.1, with
# its own config, storage and a free port, all inside one directory. Nothing leaves loopback.
#
#   registry.sh start DIR [--auth none|basic|token] [--user U] [--password P]
#                         [--no-anonymous] [--watch PID]
#       Makes DIR (must be missing or empty), starts the registry and prints shell assignments:
#           PORT=…            the registry (http://127.0.0.1:PORT)
#           TOKEN_PORT=…      (--auth token) the token server (realm http://127.0.0.1:PORT/token)
#           USER=… PASSWORD=… (--auth basic|token; default testuser/testpass)
#       The same lines go to DIR/env, so `eval "$(registry.sh start DIR)"` or `. DIR/env` work.
#       --auth basic: htpasswd (bcrypt) Basic auth. --auth token: bearer tokens (ES256 JWT from
#       token-server.py); anonymous clients get pull, USER gets everything (--no-anonymous: no
#       anonymous tokens at all). Token requests are logged to DIR/token-requests.log.
#       --watch PID: a watchdog stops everything and removes DIR when PID exits (give the test
#       process's pid so a crashed test leaves nothing behind).
#   registry.sh stop DIR [--keep]
#       Kills every process started for DIR (registry, token server, shims, watchdog: by the pids
#       recorded in DIR/*.pid) and removes DIR (only if it is a harness dir) unless --keep.
#   registry.sh shim DIR NAME MODE
#       Starts shim.py in front of the registry (MODE: proxy|redirect|corrupt|short|huge-manifest|stall|drop-upload-once|
#       truncate-once|fail-once, see shim.py) and prints SHIM_PORT=… (and CDN_PORT=… for
#       redirect). Requests are logged to DIR/shim-NAME.log; an Authorization header that reaches
#       the redirect target is recorded in DIR/shim-NAME.violations.
#   registry.sh push DIR LAYOUT[:REF] REPO:TAG [--v2s2]
#       skopeo copy of an OCI layout (default REF "latest") to 127.0.0.1:PORT/REPO:TAG with DIR's
#       credentials: `--all --preserve-digests` (byte-identical, indexes and zstd kept), or with
#       --v2s2 converted to a Docker schema2 manifest (gzip layers only).
#
# Needs: docker-registry, skopeo, htpasswd (apache2-utils), curl, python3 with cryptography.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MARKER=.bocker-registry-harness

die() { echo "registry.sh: $*" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Waits until FILE exists (up to ~10 s).
wait_file() {
    local f=$1 i
    for ((i = 0; i < 200; i++)); do [[ -s $f ]] && return 0; sleep 0.05; done
    return 1
}

# Waits until http://127.0.0.1:PORT/v2/ answers (200 or 401), or PID dies.
wait_registry() {
    local port=$1 pid=$2 i code
    for ((i = 0; i < 200; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/v2/" || true)
        [[ $code == 200 || $code == 401 ]] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# Starts a detached background process (no inherited stdout: callers may be reading our output).
spawn() {
    local log=$1; shift
    setsid "$@" </dev/null >>"$log" 2>&1 &
    echo $!
}

cmd_start() {
    local dir=${1:-}; [[ -n $dir ]] || die "start: missing DIR"; shift
    local auth=none user=testuser password=testpass anonymous=1 watch=""
    while (($#)); do
        case $1 in
            --auth) auth=${2:?}; shift 2 ;;
            --user) user=${2:?}; shift 2 ;;
            --password) password=${2:?}; shift 2 ;;
            --no-anonymous) anonymous=0; shift ;;
            --watch) watch=${2:?}; shift 2 ;;
            *) die "start: unknown option $1" ;;
        esac
    done
    case $auth in none|basic|token) ;; *) die "start: --auth must be none, basic or token" ;; esac
    if [[ -e $dir ]] && [[ -n $(ls -A "$dir") ]]; then die "start: $dir is not empty"; fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    touch "$dir/$MARKER"
    mkdir -p "$dir/data"
    local env_lines="" auth_yaml="" token_port=""
    if [[ $auth == basic ]]; then
        htpasswd -Bbn "$user" "$password" >"$dir/htpasswd" 2>/dev/null
        auth_yaml="auth:
  htpasswd:
    realm: bocker-test
    path: $dir/htpasswd"
    elif [[ $auth == token ]]; then
        printf '%s:%s\n' "$user" "$password" >"$dir/users"
        local targs=("$dir" --users "$dir/users")
        ((anonymous)) || targs+=(--no-anonymous)
        spawn "$dir/token-server.log" python3 "$HERE/token-server.py" "${targs[@]}" >"$dir/token.pid"
        wait_file "$dir/token.port" || { cmd_stop "$dir" --keep; die "token server did not start (see $dir/token-server.log)"; }
        token_port=$(cat "$dir/token.port")
        auth_yaml="auth:
  token:
    realm: http://127.0.0.1:$token_port/token
    service: bocker-test-registry
    issuer: bocker-test-issuer
    rootcertbundle: $dir/token-cert.pem"
    fi
    local port attempt
    for attempt in 1 2 3; do
        port=$(free_port)
        cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog: {disabled: true}
storage:
  filesystem: {rootdirectory: $dir/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$port
  secret: bocker-test-secret
$auth_yaml
EOF
        local pid
        pid=$(spawn "$dir/registry.log" docker-registry serve "$dir/config.yml")
        echo "$pid" >"$dir/registry.pid"
        if wait_registry "$port" "$pid"; then break; fi
        kill "$pid" 2>/dev/null || true
        rm -f "$dir/registry.pid"
        ((attempt == 3)) && { cmd_stop "$dir" --keep; die "registry did not start (see $dir/registry.log)"; }
    done
    env_lines="PORT=$port"
    [[ -n $token_port ]] && env_lines+=$'\n'"TOKEN_PORT=$token_port"
    [[ $auth != none ]] && env_lines+=$'\n'"USER=$user"$'\n'"PASSWORD=$password"
    echo "$env_lines" >"$dir/env"
    if [[ -n $watch ]]; then
        # The watchdog: when the watched process exits, stop everything and remove DIR.
        # shellcheck disable=SC2016  # $1..$3 are the inner bash's arguments
        spawn /dev/null bash -c 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; exec "$2" stop "$3"' \
            watchdog "$watch" "$HERE/registry.sh" "$dir" >"$dir/watchdog.pid"
    fi
    echo "$env_lines"
}

# Kills PID (TERM, then KILL after ~2 s) if it is alive.
kill_pid() {
    local pid=$1 i
    [[ $pid =~ ^[0-9]+$ ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
}

cmd_stop() {
    local dir=${1:-}; [[ -n $dir ]] || die "stop: missing DIR"; shift
    local keep=0
    [[ ${1:-} == --keep ]] && keep=1
    [[ -d $dir ]] || return 0
    [[ -e $dir/$MARKER ]] || die "stop: $dir is not a registry harness directory"
    local f
    for f in "$dir"/*.pid; do
        [[ -e $f ]] || continue
        # The watchdog runs this very command when it fires: do not kill ourselves.
        [[ $(basename "$f") == watchdog.pid && $(cat "$f") == "$$" ]] && { rm -f "$f"; continue; }
        kill_pid "$(cat "$f")"
        rm -f "$f"
    done
    ((keep)) || rm -rf "$dir"
}

cmd_shim() {
    local dir=${1:?shim: missing DIR} name=${2:?shim: missing NAME} mode=${3:?shim: missing MODE}
    [[ -e $dir/$MARKER ]] || die "shim: $dir is not a registry harness directory"
    [[ $name =~ ^[a-zA-Z0-9_-]+$ ]] || die "shim: NAME must be [a-zA-Z0-9_-]+"
    dir=$(cd "$dir" && pwd)
    local port; port=$(sed -n 's/^PORT=//p' "$dir/env")
    spawn "$dir/shim-$name.err" python3 "$HERE/shim.py" "$dir" "$name" --upstream "$port" --mode "$mode" \
        --storage "$dir/data" >"$dir/shim-$name.pid"
    wait_file "$dir/shim-$name.port" || die "shim did not start (see $dir/shim-$name.err)"
    echo "SHIM_PORT=$(cat "$dir/shim-$name.port")"
    [[ -e $dir/shim-$name.cdnport ]] && echo "CDN_PORT=$(cat "$dir/shim-$name.cdnport")"
    return 0
}

cmd_push() {
    local dir=${1:?push: missing DIR} layout=${2:?push: missing LAYOUT} dest=${3:?push: missing REPO:TAG}
    local v2s2=${4:-}
    [[ $layout == *:* ]] || layout="$layout:latest"
    local port user="" password=""
    port=$(sed -n 's/^PORT=//p' "$dir/env")
    user=$(sed -n 's/^USER=//p' "$dir/env")
    password=$(sed -n 's/^PASSWORD=//p' "$dir/env")
    local args=(copy --quiet --dest-tls-verify=false)
    [[ -n $user ]] && args+=(--dest-creds "$user:$password")
    if [[ $v2s2 == --v2s2 ]]; then
        args+=(--format v2s2)
    else
        args+=(--all --preserve-digests)
    fi
    # skopeo wants a policy; give it an accept-anything one instead of relying on /etc/containers.
    [[ -e $dir/policy.json ]] || echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$dir/policy.json"
    skopeo --policy "$dir/policy.json" "${args[@]}" "oci:$layout" "docker://127.0.0.1:$port/$dest" >&2
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    shim) shift; cmd_shim "$@" ;;
    push) shift; cmd_push "$@" ;;
    *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
