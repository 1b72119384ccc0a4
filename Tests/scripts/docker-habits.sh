#!/usr/bin/env bash
# Docker's habits, typed as Docker's documentation writes them, with `bocker` for `docker`.
#
# Usage: Tests/scripts/docker-habits.sh IMAGE
#   IMAGE: a busybox image in the store (bocker init of scripts/dev/make-rootfs.sh's tree);
#   `bocker` must be on PATH (and $BOCKER_ROOT set where it should work).
#
# Each habit is one command as a Docker user types it, then a check of its output or exit
# status. The first failure prints "FAILED habit N (NAME): ..." and exits 1; the last line
# of a clean run is "N habits passed". DockerHabitsScriptTests runs it in a test's own state
# root and network namespace.
set -euo pipefail

image=${1:?usage: docker-habits.sh IMAGE}
work=$(mktemp -d /tmp/bocker-habits-XXXXXX)
cd "$work"
n=0
name=""

# habit NAME: the habit the next lines type and check.
habit() { n=$((n + 1)); name=$1; }
fail() { echo "FAILED habit $n ($name): $*" >&2; exit 1; }
expect_eq() { [ "$1" = "$2" ] || fail "expected '$2', got '$1'"; }
expect_match() { [[ $1 =~ $2 ]] || fail "expected a match of /$2/, got '$1'"; }
expect_line() { grep -qxF -- "$2" <<<"$1" || fail "no line '$2' in: $1"; }
# Bounded polling for an effect with no event to wait on: CMD... until it succeeds, 10 s.
eventually() { for _ in $(seq 200); do "$@" && return 0; sleep 0.05; done; return 1; }

trap 'rc=$?; [ $rc -eq 0 ] || echo "FAILED habit $n ($name): a command exited with $rc (line $LINENO)" >&2' ERR
cleanup() {
  bocker rm -f web front job capped >/dev/null 2>&1 || true
  cd / && rm -rf "$work"
}
trap cleanup EXIT

habit "docker tag IMAGE busybox"
bocker tag "$image" busybox
expect_eq "$(bocker run --rm busybox echo hello)" "hello"

habit "docker run: the container's own exit status (exit 3)"
rc=0; bocker run busybox /bin/sh -c 'exit 3' || rc=$?
expect_eq "$rc" 3

habit "docker run: 125 when the error is bocker's own (an unknown flag)"
rc=0; err=$(bocker run --foo busybox 2>&1) || rc=$?
expect_eq "$rc" 125
expect_match "$err" "unknown flag: --foo"

habit "docker run: 126 when the command cannot be invoked"
rc=0; err=$(bocker run busybox /etc 2>&1) || rc=$?
expect_eq "$rc" 126
expect_match "$err" 'exec: "/etc": permission denied'

habit "docker run: 127 when the command is not found"
rc=0; err=$(bocker run busybox foo 2>&1) || rc=$?
expect_eq "$rc" 127
expect_match "$err" 'exec: "foo": executable file not found'

habit "docker run -d --name web -p 8080:80"
id=$(bocker run -d --name web -p 8080:80 busybox httpd -f -p 80 -h /var/www)
expect_match "$id" '^ps_[0-9a-f]{12}$'

habit "an id prefix in place of the name"
short=${id#ps_}; short=${short:0:6}
expect_eq "$(bocker inspect -f '{{.State.Status}}' "$short")" "running"

habit "docker inspect -f '{{.State.Running}}' and the docs' range over the networks"
expect_eq "$(bocker inspect -f '{{.State.Running}}' web)" "true"
ip=$(bocker inspect --format='{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$short")
expect_match "$ip" '^10\.0\.0\.[0-9]+$'

habit "docker ps --format '{{.ID}}: {{.Command}}' and a table"
expect_line "$(bocker ps --format '{{.ID}}: {{.Command}}')" "$id: httpd -f -p 80 -h /var/www"
table=$(bocker ps --filter name=web --format 'table {{.Names}}\t{{.Status}}')
expect_match "$(head -n1 <<<"$table")" '^NAMES +STATUS$'
expect_match "$(tail -n1 <<<"$table")" '^web +Up '

habit "docker port web (all, and one)"
expect_eq "$(bocker port web)" "80/tcp -> 0.0.0.0:8080"
expect_eq "$(bocker port web 80)" "0.0.0.0:8080"

habit "docker cp a host file into the container"
echo "served by bocker" > index.html
bocker cp index.html web:/var/www/index.html
expect_eq "$(bocker exec web wget -qO- http://localhost/index.html)" "served by bocker"

habit "docker cp a file out of the container"
bocker cp web:/etc/hostname ./hostname
expect_eq "$(cat hostname)" "$id"

habit "docker exec -it under a terminal (script -qec)"
out=$(script -qec "bocker exec -it web sh -c 'tty; echo \$((6 * 7))'" /dev/null | tr -d '\r')
expect_match "$out" '/dev/pts/0'
expect_match "$out" '(^|[^0-9])42'

habit "docker exec -d, and its error when the command is not found"
bocker exec -d web touch /tmp/detached
eventually bocker exec web test -e /tmp/detached || fail "the detached command never ran"
rc=0; err=$(bocker exec -d web nosuch 2>&1) || rc=$?
expect_eq "$rc" 127
expect_match "$err" '"nosuch": executable file not found'

habit "docker top web"
top=$(bocker top web)
expect_match "$(head -n1 <<<"$top")" 'PID'
expect_match "$top" 'httpd -f -p 80'

habit "docker stats --no-stream (the table, and --format)"
stats=$(bocker stats --no-stream)
expect_match "$(head -n1 <<<"$stats")" '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
expect_match "$stats" "$id +web "
expect_match "$(bocker stats --no-stream --format '{{.Name}}: {{.CPUPerc}} {{.PIDs}}' web)" '^web: [0-9.]+% [1-9][0-9]*$'

habit "docker rename web front"
bocker rename web front
expect_eq "$(bocker inspect -f '{{.Name}}' front)" "/front"
if bocker inspect web >/dev/null 2>&1; then fail "the old name still works"; fi

habit "docker pause / docker unpause"
bocker pause front >/dev/null
expect_eq "$(bocker inspect -f '{{.State.Status}}' front)" "paused"
expect_eq "$(bocker info --format '{{.ContainersPaused}}')" "1"
bocker unpause front >/dev/null
expect_eq "$(bocker inspect -f '{{.State.Status}}' front)" "running"
expect_eq "$(bocker exec front echo awake)" "awake"

habit "docker create, then docker start -a"
bocker create --name job busybox sh -c 'echo hello from job; exit 3' >/dev/null
expect_eq "$(bocker inspect -f '{{.State.Status}}' job)" "created"
rc=0; out=$(bocker start -a job) || rc=$?
expect_eq "$rc" 3
expect_eq "$out" "hello from job"
expect_eq "$(bocker wait job)" "3"

habit "docker run --add-host (a name, and host-gateway)"
hosts=$(bocker run --rm --add-host=docker:93.184.216.34 --add-host host.docker.internal:host-gateway busybox cat /etc/hosts)
expect_match "$hosts" $'93\\.184\\.216\\.34\tdocker'
bocker run --rm --add-host=host.docker.internal:host-gateway busybox ping -c 1 -W 5 host.docker.internal >/dev/null

habit "docker run --dns"
expect_line "$(bocker run --rm --dns=10.0.0.53 busybox cat /etc/resolv.conf)" "nameserver 10.0.0.53"

habit "docker run --cpus=\".5\", then docker update"
bocker run -d --name capped --cpus=".5" busybox sleep 300 >/dev/null
expect_eq "$(bocker inspect -f '{{.HostConfig.NanoCpus}}' capped)" "500000000"
bocker update --cpus 1.5 --memory 400m capped >/dev/null
expect_eq "$(bocker inspect -f '{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}' capped)" "1500000000 419430400"

habit "docker run --env-file env.list -e"
printf '# This is a comment\nVAR1=value1\nVAR2=value2\nUSER\n' > env.list
export USER=habits-user
env=$(bocker run --rm --env-file env.list -e VAR2=from-flag busybox env)
expect_line "$env" "VAR1=value1"
expect_line "$env" "VAR2=from-flag"
expect_line "$env" "USER=habits-user"

habit "docker run --mount type=bind,source=...,target=/app,readonly"
mkdir target && echo "app file" > target/f
rc=0; out=$(bocker run --rm --mount type=bind,source="$(pwd)"/target,target=/app,readonly busybox \
  sh -c 'cat /app/f; touch /app/new' 2>&1) || rc=$?
expect_eq "$rc" 1
expect_line "$out" "app file"
expect_match "$out" 'Read-only file system'
[ ! -e target/new ] || fail "the readonly bind mount was written"

habit "docker info"
info=$(bocker info)
expect_line "$info" " Containers: $(bocker ps -a -q | wc -l)"
expect_line "$info" "  Running: 2"
expect_match "$info" $'\n Storage Driver: [a-z]+\n'
expect_eq "$(bocker info --format '{{.ContainersRunning}}')" "2"

habit "docker rm -f of running containers"
bocker rm -f front capped >/dev/null
if bocker ps -q --filter status=running | grep -q .; then fail "a container still runs"; fi

echo "$n habits passed"
