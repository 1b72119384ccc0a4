-- bocker.runopts: the options `run` and `create` share (one table, so both accept and
-- document exactly the same flags) and the container they describe.
local cli = require "bocker.cli"

local M = {}

M.options = {
  ["-i"] = { name = "interactive", kind = "flag", help = "keep stdin open (the container reads this terminal's input)" },
  ["--interactive"] = { name = "interactive", kind = "flag" },
  ["--rm"] = { name = "rm", kind = "flag", help = "remove the container when it exits" },
  ["--name"] = { name = "name", kind = "value", arg = "NAME", help = "name the container" },
  ["-e"] = { name = "env", kind = "list", arg = "KEY=VALUE", help = "set an environment variable (KEY alone: take this shell's value)" },
  ["--env"] = { name = "env", kind = "list" },
  ["-w"] = { name = "workdir", kind = "value", arg = "DIR", help = "working directory inside the container" },
  ["--workdir"] = { name = "workdir", kind = "value" },
  ["-u"] = { name = "user", kind = "value", arg = "USER[:GROUP]", help = "run as this user (name or uid)" },
  ["--user"] = { name = "user", kind = "value" },
  ["--entrypoint"] = { name = "entrypoint", kind = "value", arg = "CMD", help = "override the image's entrypoint" },
  ["-c"] = { name = "cpu_shares", kind = "value", arg = "N", help = "CPU shares (default: $BOCKER_CPU_SHARE or 512)" },
  ["--cpu-shares"] = { name = "cpu_shares", kind = "value" },
  ["--cpu_share"] = { name = "cpu_share", kind = "value", arg = "N", help = "CPU shares, the original's spelling" },
  ["-m"] = { name = "memory", kind = "value", arg = "SIZE", help = "memory limit: 64m, 1g (default: $BOCKER_MEM_LIMIT MB or 512 MB)" },
  ["--memory"] = { name = "memory", kind = "value" },
  ["--mem_limit"] = { name = "mem_limit", kind = "value", arg = "MB", help = "memory limit in MB (x 1,000,000 bytes), the original's spelling" },
  ["--pids-limit"] = { name = "pids_limit", kind = "value", arg = "N", help = "most processes at once (default 4096; 0 or -1: unlimited)" },
  ["-p"] = { name = "publish", kind = "list", arg = "[IP:]HOSTPORT:PORT[/udp]", help = "publish a container port on the host" },
  ["--publish"] = { name = "publish", kind = "list" },
  ["-P"] = { name = "publish_all", kind = "flag", help = "publish every exposed port (the image's and --expose) on a free host port" },
  ["--publish-all"] = { name = "publish_all", kind = "flag" },
  ["--expose"] = { name = "expose", kind = "list", arg = "PORT[/PROTO]", help = "expose a port or a range (8000-8010/udp) without publishing it" },
  ["--stop-signal"] = { name = "stop_signal", kind = "value", arg = "SIGNAL", help = "the signal stop sends (default: the image's StopSignal, else TERM)" },
  ["--stop-timeout"] = { name = "stop_timeout", kind = "value", arg = "SECONDS", help = "seconds stop waits before SIGKILL (default 10; -1: for ever)" },
  ["--network"] = { name = "network", kind = "value", arg = "NAME", help = "bridge (default: bridge0, 10.0.0.0/24), none (loopback only),\nhost (the host's network), a network from 'bocker network create',\nor container:NAME (join a running container's network, hostname and /etc files; no -p)" },
  ["--net"] = { name = "network", kind = "value" },
  ["-d"] = { name = "detach", kind = "flag", help = "run in the background and print the container id" },
  ["--detach"] = { name = "detach", kind = "flag" },
  ["-h"] = { name = "hostname", kind = "value", arg = "NAME", help = "the container's hostname (default: its id)" },
  ["--hostname"] = { name = "hostname", kind = "value" },
  ["--env-file"] = { name = "env_file", kind = "list", arg = "FILE", help = "KEY=VALUE lines to add to the environment" },
  ["-v"] = { name = "volume", kind = "list", arg = "SRC:DEST[:ro]", help = "bind-mount a host path (SRC starts with /) or a named volume" },
  ["--volume"] = { name = "volume", kind = "list" },
  ["--volumes-from"] = { name = "volumes_from", kind = "list", arg = "C[:ro]", help = "the mounts of container C too" },
  ["--tmpfs"] = { name = "tmpfs", kind = "list", arg = "DEST", help = "a tmpfs on DEST" },
  ["--restart"] = { name = "restart", kind = "value", arg = "POLICY", help = "no (default), on-failure[:N], always or unless-stopped" },
  ["--init"] = { name = "init", kind = "flag", help = "run bocker's init as PID 1 (reaps zombies, forwards signals)" },
  ["-t"] = { name = "tty", kind = "flag", help = "give the command a pseudo-terminal (-it for an interactive shell)" },
  ["--tty"] = { name = "tty", kind = "flag" },
  ["-l"] = { name = "label", kind = "list", arg = "KEY=VALUE", help = "set a label on the container" },
  ["--label"] = { name = "label", kind = "list" },
  ["--pull"] = { name = "pull", kind = "value", arg = "POLICY", help = "missing (default), always or never: pull a registry image first" },
  ["--platform"] = { name = "platform", kind = "value", arg = "OS/ARCH[/VARIANT]", help = "the platform to pull" },
  -- security (docs/security.md)
  ["--privileged"] = { name = "privileged", kind = "flag", help = "all capabilities, no seccomp filter, every device, writable /sys:\nthe container can take over the host. Dangerous." },
  ["--cap-add"] = { name = "cap_add", kind = "list", arg = "CAP", help = "add a capability (NET_ADMIN, SYS_TIME, ..., ALL)" },
  ["--cap-drop"] = { name = "cap_drop", kind = "list", arg = "CAP", help = "drop a capability (ALL drops every one; drops apply before adds)" },
  ["--read-only"] = { name = "read_only", kind = "flag", help = "mount the root filesystem read-only (volumes and --tmpfs stay writable)" },
  ["--security-opt"] = { name = "security_opt", kind = "list", arg = "OPT", help = "seccomp=unconfined, seccomp=PROFILE.json (Docker's format),\nno-new-privileges[=true|false], systempaths=unconfined" },
  ["--device"] = { name = "device", kind = "list", arg = "HOST[:CONTAINER][:rwm]", help = "make a host device available in the container" },
  ["--userns"] = { name = "userns", kind = "value", arg = "MODE", help = "host (default) or auto: root in the container is an unused range of\n65536 host ids ('bocker' lines of /etc/subuid and /etc/subgid)" },
  -- resources beyond shares, memory and pids
  ["--cpus"] = { name = "cpus", kind = "value", arg = "N", help = "CPU time: N CPUs' worth (1.5), as a CFS quota per 100 ms" },
  ["--cpuset-cpus"] = { name = "cpuset_cpus", kind = "value", arg = "LIST", help = "the CPUs it may run on (0-2,4)" },
  ["--memory-swap"] = { name = "memory_swap", kind = "value", arg = "SIZE", help = "memory plus swap (at least --memory; -1: unlimited swap)" },
  ["--memory-reservation"] = { name = "memory_reservation", kind = "value", arg = "SIZE", help = "soft memory limit (reclaimed first under pressure)" },
  ["--ulimit"] = { name = "ulimit", kind = "list", arg = "NAME=SOFT[:HARD]", help = "a resource limit (nofile=1024:2048, nproc, core, ...)" },
  ["--shm-size"] = { name = "shm_size", kind = "value", arg = "SIZE", help = "size of /dev/shm (default 64m)" },
  ["--sysctl"] = { name = "sysctl", kind = "list", arg = "NAME=VALUE", help = "a namespaced sysctl: net.* (own network), kernel.shm*/msg*/sem, fs.mqueue.*" },
  -- files and namespaces
  ["--mount"] = { name = "mount", kind = "list", arg = "type=bind|volume|tmpfs,...", help = "Docker's mount syntax: type, source, target, readonly,\ntmpfs-size, tmpfs-mode" },
  ["--add-host"] = { name = "add_host", kind = "list", arg = "NAME:IP", help = "a line in /etc/hosts (IP host-gateway: the bridge's address)" },
  ["--dns"] = { name = "dns", kind = "list", arg = "IP", help = "a nameserver for /etc/resolv.conf (replaces the host's)" },
  ["--dns-search"] = { name = "dns_search", kind = "list", arg = "DOMAIN", help = "a search domain for /etc/resolv.conf" },
  ["--dns-option"] = { name = "dns_option", kind = "list", arg = "OPT", help = "a resolver option for /etc/resolv.conf (ndots:2)" },
  ["--dns-opt"] = { name = "dns_option", kind = "list" },
  ["--ipc"] = { name = "ipc", kind = "value", arg = "MODE", help = "private (default; shareable is the same), none (no /dev/shm), host (the host's IPC\nnamespace and /dev/shm), or container:NAME (a running container's, with its /dev/shm)" },
  ["--pid"] = { name = "pid", kind = "value", arg = "MODE", help = "host: share the host's PID namespace (it sees and can signal host processes);\ncontainer:NAME: a running container's (it dies with that container's PID 1)" },
  ["--uts"] = { name = "uts", kind = "value", arg = "host", help = "share the host's hostname (UTS namespace)" },
  ["--cidfile"] = { name = "cidfile", kind = "value", arg = "FILE", help = "write the container id to FILE (which must not exist)" },
  -- logging (rotation of the json-file log)
  ["--log-opt"] = { name = "log_opt", kind = "list", arg = "KEY=VALUE", help = "max-size=SIZE rotates the log past SIZE (10m); max-file=N keeps N files" },
  -- healthcheck (over the image's; Docker's defaults: 30s, 30s, 3 retries, no start period)
  ["--health-cmd"] = { name = "health_cmd", kind = "value", arg = "CMD", help = "command (run with /bin/sh -c) that checks the container's health" },
  ["--health-interval"] = { name = "health_interval", kind = "value", arg = "DURATION", help = "time between checks (30s)" },
  ["--health-timeout"] = { name = "health_timeout", kind = "value", arg = "DURATION", help = "a check running longer is killed and fails (30s)" },
  ["--health-retries"] = { name = "health_retries", kind = "value", arg = "N", help = "failures in a row that make it unhealthy (3)" },
  ["--health-start-period"] = { name = "health_start_period", kind = "value", arg = "DURATION", help = "time to start in: failures then do not count (0s)" },
  ["--health-start-interval"] = { name = "health_start_interval", kind = "value", arg = "DURATION", help = "time between checks during the start period (5s)" },
  ["--no-healthcheck"] = { name = "no_healthcheck", kind = "flag", help = "disable the image's healthcheck" },
}

-- The healthcheck option of create from the --health-* flags (nil: the image's, if any).
local function healthcheck_of(o)
  local function dur(v, flag)
    if v == nil then return nil end
    local ok, secs = pcall(bocker.duration, v)
    if not ok then cli.fail(("invalid %s '%s': use a duration such as 30s or 1m30s"):format(flag, v)) end
    return secs
  end
  local any = o.health_cmd or o.health_interval or o.health_timeout or o.health_retries
    or o.health_start_period or o.health_start_interval
  if o.no_healthcheck then
    if any then cli.fail("--no-healthcheck conflicts with --health-* options") end
    return false
  end
  if not any then return nil end
  return {
    test = o.health_cmd,
    interval = dur(o.health_interval, "--health-interval"), timeout = dur(o.health_timeout, "--health-timeout"),
    start_period = dur(o.health_start_period, "--health-start-period"),
    start_interval = dur(o.health_start_interval, "--health-start-interval"),
    retries = o.health_retries and cli.integer(o.health_retries, "--health-retries", 0),
  }
end

-- Docker's --pull: "missing" (default) pulls a registry reference not in the store yet;
-- "always" pulls first; "never" does not. Ids (img_…) and directories are never pulled.
local function ensure_image(image, policy, platform)
  policy = policy or "missing"
  if policy ~= "missing" and policy ~= "always" and policy ~= "never" then
    cli.fail(("invalid --pull '%s': use missing, always or never"):format(policy))
  end
  -- Only what looks like a registry reference is pulled (lowercase name, optional registry,
  -- tag or digest); anything else is looked up locally and reported as missing.
  local looks_remote = image:match("^[a-z0-9][a-z0-9._/:@-]*$") and not image:find("..", 1, true)
  if image:match("^img_") or not looks_remote or policy == "never" or not bocker.image.pull then return image end
  if policy == "missing" then
    local ok, err = pcall(bocker.image.get, image)
    if ok or type(err) ~= "table" or err.code ~= "not_found" then return image end
    io.stderr:write(("Unable to find image '%s' locally\n"):format(image))
  end
  return bocker.image.pull(image, { platform = platform }).id
end

local function read_env_file(path, env)
  local lines, err = cli.read_env_file(path)
  if not lines then cli.fail(("cannot read --env-file '%s': %s"):format(path, err)) end
  for _, kv in ipairs(lines) do env[#env + 1] = kv end
end

-- The original ran its command line through /bin/sh -c; Docker execs argv directly. bocker
-- does both: ONE argument with shell syntax or spaces goes to /bin/sh -c, several are exec'd.
local function command_of(rest)
  local cmd = table.move(rest, 2, #rest, 1, {})
  return cmd, #cmd == 1 and cmd[1]:find("[%s;&|<>()$`\\\"'*?~#{}%[%]]") ~= nil
end

--- The container the parsed options `o` and positional arguments `rest` (IMAGE [COMMAND
--- [ARG...]]) describe, created (state "created"). `command` names the verb for messages.
function M.create(o, rest, command)
  local image = rest[1]
  if not image then cli.fail(("usage: bocker %s [OPTIONS] <image> [command [arg...]]"):format(command)) end

  -- Only the limits asked for here: the core fills in the defaults ($BOCKER_CPU_SHARE,
  -- $BOCKER_MEM_LIMIT, built-in values), which give way on a host without the controller,
  -- while an asked-for limit there is an error.
  -- Here only the syntax; the core checks the ranges (2-262144 shares, at least 6 MiB).
  local cpu = o.cpu_shares and cli.integer(o.cpu_shares, o.cpu_shares_spelling, 0)
    or o.cpu_share and cli.integer(o.cpu_share, "--cpu_share", 0)
  local memory
  if o.memory then
    memory = cli.bytes(o.memory, o.memory_spelling)
  elseif o.mem_limit then
    memory = cli.integer(o.mem_limit, "--mem_limit", 0, 1099511627776) * 1000000   -- the original's MB
  end
  local pids = o.pids_limit and cli.integer(o.pids_limit, "--pids-limit", -1)
  local cpus = o.cpus and (tonumber(o.cpus) or cli.fail(("invalid value '%s' for --cpus: expected a number such as 1.5"):format(o.cpus)))
  local swap = o.memory_swap and (o.memory_swap == "-1" and -1 or cli.bytes(o.memory_swap, "--memory-swap"))
  local reservation = o.memory_reservation and cli.bytes(o.memory_reservation, "--memory-reservation")
  local shm = o.shm_size and cli.bytes(o.shm_size, "--shm-size")
  if o.cidfile and bocker.fs.exists(o.cidfile) then
    cli.fail(("container ID file found, make sure the other container isn't running or delete %s"):format(o.cidfile))
  end

  local env = {}
  for _, path in ipairs(o.env_file or {}) do read_env_file(path, env) end
  for _, kv in ipairs(o.env or {}) do
    if kv:find("=", 1, true) then env[#env + 1] = kv
    elseif kv ~= "" and os.getenv(kv) then env[#env + 1] = kv .. "=" .. os.getenv(kv) end
  end

  local labels = {}
  for _, l in ipairs(o.label or {}) do
    local k, v = l:match("^([^=]+)=(.*)$")
    labels[k or l] = v or ""
  end
  local healthcheck = healthcheck_of(o)
  image = ensure_image(image, o.pull, o.platform)
  local cmd, shell = command_of(rest)
  local c = bocker.container.create {
    image = image, cmd = cmd, shell = shell, name = o.name, env = env, workdir = o.workdir,
    user = o.user, entrypoint = o.entrypoint and { o.entrypoint } or nil,
    cpu_shares = cpu, memory = memory, pids_limit = pids,
    network = o.network, ports = o.publish, hostname = o.hostname,
    volumes = o.volume, volumes_from = o.volumes_from, tmpfs = o.tmpfs,
    restart = o.restart, auto_remove = o.rm, init = o.init, tty = o.tty, interactive = o.interactive, labels = labels,
    privileged = o.privileged, cap_add = o.cap_add, cap_drop = o.cap_drop, read_only = o.read_only,
    security_opt = o.security_opt, devices = o.device, userns = o.userns,
    log_opts = o.log_opt,
    publish_all = o.publish_all, expose = o.expose, stop_signal = o.stop_signal,
    stop_timeout = o.stop_timeout and cli.integer(o.stop_timeout, "--stop-timeout", -1),
    cpus = cpus, cpuset_cpus = o.cpuset_cpus, memory_swap = swap, memory_reservation = reservation,
    ulimits = o.ulimit, shm_size = shm, sysctls = o.sysctl, mounts = o.mount,
    extra_hosts = o.add_host, dns = o.dns, dns_search = o.dns_search, dns_options = o.dns_option,
    ipc = o.ipc, pid = o.pid, uts = o.uts, healthcheck = healthcheck,
  }
  if o.cidfile then
    local f, err = io.open(o.cidfile, "w")
    if not f or not f:write(c.id) or not f:close() then
      pcall(bocker.container.remove, c.id, { force = true })
      cli.fail(("cannot write --cidfile '%s': %s"):format(o.cidfile, tostring(err)))
    end
  end
  return c
end

return M
