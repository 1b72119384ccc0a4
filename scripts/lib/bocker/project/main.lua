-- bocker.project.main: the command line of a project script (p:main(arg)).
local cli = require "bocker.cli"
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project

-- The command line --------------------------------------------------------------------------------

local USAGE = [[
usage: bocker script %s COMMAND [OPTIONS]

Commands:
  up [SERVICE...]          create and start what is missing or changed, wait for conditions
      --remove-orphans     remove containers of services that are no longer declared
      --force-recreate     recreate every container even if its config is unchanged
      --no-recreate        keep existing containers even if their config changed
      --no-wait            return once everything is started (do not wait for health/jobs)
      --timeout N          fail when not up after N seconds (default %d), naming the service
      --sequential         start one service at a time, each after the last reached its condition
      --no-rollback        on failure, leave what this up made (default: remove it, as down would)
  down                     remove the project's containers, networks and state
      -v, --volumes        remove its named volumes too
      -t, --timeout N      seconds between SIGTERM and SIGKILL (default %d)
  ps [SERVICE]             list the project's containers (-q: ids; --format json)
  logs [-f] [SERVICE...]   the containers' output, each line prefixed SERVICE-N |
  exec [--index N] SERVICE CMD...   run a command in a service's container
  scale SERVICE N          set a service's number of containers (until the next up)
  rollout SERVICE          rolling update: each new container healthy before an old one goes
      --timeout N          seconds each new container may take to be healthy (default %d)
      --force              replace every container, changed or not
  config                   print the resolved project as JSON
  export kube              print Kubernetes YAML (Deployments, Jobs, Services, PVCs)
      --registry PREFIX    images that exist only here become PREFIX/PROJECT-SERVICE:latest
      --bind-mounts KIND   a bind mount becomes an emptydir (default), a pvc, or a hostpath]]

function Project:usage()
  return USAGE:format(self.script, self.wait_timeout, self.stop_timeout, self.wait_timeout)
end

local function parse(args, spec, command)
  return cli.parse(args, spec, nil, true)
end

--- p:main(arg): the command line. Returns the exit status (use `return p:main(arg)`).
function Project:main(args)
  args = args or {}
  local list = {}
  for i = 1, #args do list[i] = args[i] end
  local cmd = table.remove(list, 1)
  if cmd == nil or cmd == "help" or cmd == "-h" or cmd == "--help" then
    print(self:usage())
    return cmd == nil and 2 or 0
  end
  if cmd == "up" then
    local o, rest = parse(list, {
      ["--remove-orphans"] = { name = "remove_orphans", kind = "flag" },
      ["--force-recreate"] = { name = "force_recreate", kind = "flag" },
      ["--no-recreate"] = { name = "no_recreate", kind = "flag" },
      ["--no-wait"] = { name = "no_wait", kind = "flag" },
      ["-d"] = { name = "detach", kind = "flag" }, ["--detach"] = { name = "detach", kind = "flag" },
      ["--timeout"] = { name = "timeout", kind = "value" }, ["--wait-timeout"] = { name = "timeout", kind = "value" },
      ["--sequential"] = { name = "sequential", kind = "flag" },
      ["--no-rollback"] = { name = "no_rollback", kind = "flag" },
    })
    self:up { services = rest, remove_orphans = o.remove_orphans, force_recreate = o.force_recreate,
              no_recreate = o.no_recreate, wait = not o.no_wait, sequential = o.sequential,
              rollback = not o.no_rollback, timeout = o.timeout and cli.integer(o.timeout, o.timeout_spelling, 1) }
    return 0
  elseif cmd == "down" then
    local o, rest = parse(list, {
      ["-v"] = { name = "volumes", kind = "flag" }, ["--volumes"] = { name = "volumes", kind = "flag" },
      ["-t"] = { name = "timeout", kind = "value" }, ["--timeout"] = { name = "timeout", kind = "value" },
      ["--remove-orphans"] = { name = "remove_orphans", kind = "flag" },
    })
    if #rest > 0 then cli.fail("down takes no service names (it removes the whole project)") end
    self:down { volumes = o.volumes, timeout = o.timeout and cli.integer(o.timeout, o.timeout_spelling, 0) }
    return 0
  elseif cmd == "ps" then
    local o, rest = parse(list, {
      ["-q"] = { name = "quiet", kind = "flag" }, ["--quiet"] = { name = "quiet", kind = "flag" },
      ["--format"] = { name = "format", kind = "value" },
    })
    if o.format and o.format ~= "json" then cli.fail("ps --format: only json is supported") end
    self:ps { service = rest[1], quiet = o.quiet, json = o.format == "json" }
    return 0
  elseif cmd == "logs" then
    local o, rest = parse(list, { ["-f"] = { name = "follow", kind = "flag" }, ["--follow"] = { name = "follow", kind = "flag" } })
    self:logs { follow = o.follow, services = rest }
    return 0
  elseif cmd == "exec" then
    local o, rest = cli.parse(list, { ["--index"] = { name = "index", kind = "value" } })
    local service = table.remove(rest, 1)
    if not service or #rest == 0 then cli.fail("usage: exec [--index N] SERVICE COMMAND [ARG...]") end
    if not self.services[service] then cli.fail(("no such service: %s"):format(service)) end
    local argv = rest
    if #rest == 1 and needs_shell(rest[1]) then argv = { "/bin/sh", "-c", rest[1] } end
    return self:exec(service, argv, { index = o.index and cli.integer(o.index, "--index", 1) or 1 })
  elseif cmd == "scale" then
    local service, n = list[1], list[2]
    if not service or not n or #list > 2 then
      local s2, n2 = (service or ""):match("^(.+)=(%d+)$")
      if s2 then service, n = s2, n2 else cli.fail("usage: scale SERVICE N") end
    end
    if not self.services[service] then cli.fail(("no such service: %s"):format(service)) end
    self.replica_override = { [service] = cli.integer(n, "scale", 0) }
    self:up { services = { service } }
    return 0
  elseif cmd == "rollout" then
    local o, rest = parse(list, {
      ["--timeout"] = { name = "timeout", kind = "value" }, ["--force"] = { name = "force", kind = "flag" },
    })
    if #rest ~= 1 then cli.fail("usage: rollout [--timeout N] [--force] SERVICE") end
    if not self.services[rest[1]] then cli.fail(("no such service: %s"):format(rest[1])) end
    self:rollout(rest[1], { force = o.force, timeout = o.timeout and cli.integer(o.timeout, o.timeout_spelling, 1) })
    return 0
  elseif cmd == "config" then
    print(bocker.json(self:config(), 2))
    return 0
  elseif cmd == "export" then
    if list[1] ~= "kube" then cli.fail("usage: export kube [--registry PREFIX] [--bind-mounts emptydir|pvc|hostpath]") end
    table.remove(list, 1)
    local o, rest = parse(list, {
      ["--registry"] = { name = "registry", kind = "value" },
      ["--bind-mounts"] = { name = "bind_mounts", kind = "value" },
    })
    if #rest > 0 then cli.fail("usage: export kube [--registry PREFIX] [--bind-mounts emptydir|pvc|hostpath]") end
    local bm = o.bind_mounts or "emptydir"
    if bm ~= "emptydir" and bm ~= "pvc" and bm ~= "hostpath" then cli.fail("--bind-mounts: use emptydir, pvc or hostpath") end
    io.write(self:kube { registry = o.registry, bind_mounts = bm })
    return 0
  end
  cli.fail(("unknown command '%s'\n%s"):format(cmd, self:usage()))
end

return Project
