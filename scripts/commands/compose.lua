-- bocker compose [OPTIONS] COMMAND: a compose.yaml run as a bocker.project (docs/compose.md).
local cli = require "bocker.cli"
local compose = require "bocker.compose"

local usage = "bocker compose [-f FILE]... [-p NAME] [--profile P]... COMMAND [ARGS...]"

local options = {
  ["-f"] = { name = "file", kind = "list", arg = "FILE", help = "a compose file (repeat to merge several; default: compose.yaml in this folder)" },
  ["--file"] = { name = "file", kind = "list" },
  ["-p"] = { name = "project_name", kind = "value", arg = "NAME", help = "the project name (default: the file's name:, or the folder's)" },
  ["--project-name"] = { name = "project_name", kind = "value" },
  ["--profile"] = { name = "profile", kind = "list", arg = "PROFILE", help = "enable the services of a profile (also $COMPOSE_PROFILES)" },
  ["--env-file"] = { name = "env_file", kind = "list", arg = "FILE", help = "variables for interpolation (default: .env beside the file)" },
  ["--project-directory"] = { name = "project_directory", kind = "value", arg = "DIR", help = "the base of relative paths (default: the first file's folder)" },
}

local sub_specs = {
  up = {
    ["-d"] = { name = "detach", kind = "flag", help = "return once started (without it, follow the logs)" },
    ["--detach"] = { name = "detach", kind = "flag" },
    ["--force-recreate"] = { name = "force_recreate", kind = "flag", help = "recreate every container" },
    ["--no-recreate"] = { name = "no_recreate", kind = "flag", help = "keep existing containers even if their config changed" },
    ["--remove-orphans"] = { name = "remove_orphans", kind = "flag", help = "remove containers of services not in the file" },
    ["--wait"] = { name = "wait", kind = "flag", help = "wait until every service is running/healthy (jobs: exited 0)" },
    ["--wait-timeout"] = { name = "timeout", kind = "value", arg = "N", help = "seconds up may take (default 120)" },
    ["-t"] = { name = "timeout", kind = "value", arg = "N", help = "the same as --wait-timeout" },
    ["--timeout"] = { name = "timeout", kind = "value" },
    ["--build"] = { name = "build", kind = "flag", help = "build the images of services with build: first (default: only missing ones)" },
    ["--no-rollback"] = { name = "no_rollback", kind = "flag", help = "on failure, leave what this up made" },
  },
  down = {
    ["-v"] = { name = "volumes", kind = "flag", help = "remove the named volumes too" },
    ["--volumes"] = { name = "volumes", kind = "flag" },
    ["--remove-orphans"] = { name = "remove_orphans", kind = "flag", help = "accepted: down removes every container of the project" },
    ["-t"] = { name = "timeout", kind = "value", arg = "N", help = "seconds between SIGTERM and SIGKILL" },
    ["--timeout"] = { name = "timeout", kind = "value" },
  },
  ps = {
    ["-a"] = { name = "all", kind = "flag", help = "stopped containers too" },
    ["--all"] = { name = "all", kind = "flag" },
    ["-q"] = { name = "quiet", kind = "flag", help = "only ids" },
    ["--quiet"] = { name = "quiet", kind = "flag" },
    ["--services"] = { name = "services", kind = "flag", help = "only service names" },
    ["--format"] = { name = "format", kind = "value", arg = "FORMAT", help = "table (default) or json" },
  },
  logs = {
    ["-f"] = { name = "follow", kind = "flag", help = "keep following" },
    ["--follow"] = { name = "follow", kind = "flag" },
  },
  exec = {
    ["--index"] = { name = "index", kind = "value", arg = "N", help = "which replica (default 1)" },
    ["-T"] = { name = "no_tty", kind = "flag", help = "accepted (exec never allocates a terminal)" },
    ["-e"] = { name = "env", kind = "list", arg = "KEY=VALUE", help = "set an environment variable" },
    ["--env"] = { name = "env", kind = "list" },
    ["-u"] = { name = "user", kind = "value", arg = "USER", help = "run as this user" },
    ["--user"] = { name = "user", kind = "value" },
    ["-w"] = { name = "workdir", kind = "value", arg = "DIR", help = "working directory" },
    ["--workdir"] = { name = "workdir", kind = "value" },
  },
  run = {
    ["--rm"] = { name = "rm", kind = "flag", help = "remove the container when it exits" },
    ["-e"] = { name = "env", kind = "list", arg = "KEY=VALUE", help = "set an environment variable" },
    ["--env"] = { name = "env", kind = "list" },
    ["--entrypoint"] = { name = "entrypoint", kind = "value", arg = "CMD", help = "override the entrypoint" },
    ["-T"] = { name = "no_tty", kind = "flag", help = "accepted (run never allocates a terminal)" },
    ["--no-deps"] = { name = "no_deps", kind = "flag", help = "do not start the services it depends on" },
    ["-u"] = { name = "user", kind = "value", arg = "USER", help = "run as this user" },
    ["--user"] = { name = "user", kind = "value" },
    ["-w"] = { name = "workdir", kind = "value", arg = "DIR", help = "working directory" },
    ["--workdir"] = { name = "workdir", kind = "value" },
  },
  start = {}, restart = { ["-t"] = { name = "timeout", kind = "value", arg = "N", help = "seconds between SIGTERM and SIGKILL" } },
  stop = { ["-t"] = { name = "timeout", kind = "value", arg = "N", help = "seconds between SIGTERM and SIGKILL" },
           ["--timeout"] = { name = "timeout", kind = "value" } },
  pull = { ["-q"] = { name = "quiet", kind = "flag", help = "no progress" }, ["--quiet"] = { name = "quiet", kind = "flag" } },
  build = {
    ["--no-cache"] = { name = "no_cache", kind = "flag", help = "run every step (the results still go into the cache)" },
    ["--pull"] = { name = "pull", kind = "flag", help = "pull the base images even when they are here" },
    ["-q"] = { name = "quiet", kind = "flag", help = "print only the image ids" },
    ["--quiet"] = { name = "quiet", kind = "flag" },
  },
  config = {
    ["--services"] = { name = "services", kind = "flag", help = "only the service names" },
    ["--volumes"] = { name = "volumes", kind = "flag", help = "only the volume names" },
    ["-q"] = { name = "quiet", kind = "flag", help = "only check the file" },
    ["--quiet"] = { name = "quiet", kind = "flag" },
    ["--format"] = { name = "format", kind = "value", arg = "FORMAT", help = "yaml (default) or json" },
  },
  convert = {
    ["--format"] = { name = "format", kind = "value", arg = "FORMAT", help = "kube: Kubernetes YAML; yaml/json: as config" },
    ["--registry"] = { name = "registry", kind = "value", arg = "PREFIX", help = "kube: write PREFIX/PROJECT-SERVICE:latest for images that exist only here" },
    ["--bind-mounts"] = { name = "bind_mounts", kind = "value", arg = "KIND", help = "kube: what a bind mount becomes: emptydir (default), pvc or hostpath" },
  },
}

local sub_usage = {
  up = "bocker compose up [OPTIONS] [SERVICE...]", down = "bocker compose down [OPTIONS]",
  ps = "bocker compose ps [OPTIONS] [SERVICE...]", logs = "bocker compose logs [-f] [SERVICE...]",
  exec = "bocker compose exec [OPTIONS] SERVICE COMMAND [ARG...]",
  run = "bocker compose run [OPTIONS] SERVICE [COMMAND [ARG...]]",
  start = "bocker compose start [SERVICE...]", stop = "bocker compose stop [-t N] [SERVICE...]",
  restart = "bocker compose restart [-t N] [SERVICE...]", pull = "bocker compose pull [-q] [SERVICE...]",
  build = "bocker compose build [--no-cache] [--pull] [-q] [SERVICE...]", config = "bocker compose config [OPTIONS]",
  convert = "bocker compose convert --format kube [--registry PREFIX] [--bind-mounts KIND]",
}

local help = [[
Commands:
  up [-d] [SERVICE...]     create and start the services (and what they depend on)
  down [-v]                remove the project's containers and networks (-v: volumes too)
  ps [-a] [SERVICE...]     the running containers of the project (-a: all)
  logs [-f] [SERVICE...]   their output, each line prefixed SERVICE-N |
  exec SERVICE CMD...      a command in a running service container
  run [--rm] SERVICE [CMD...]  a one-off container of a service, in the foreground
  start|stop|restart [SERVICE...]
  pull [SERVICE...]        pull the services' images
  config                   the resolved model (variables interpolated, files merged)
  convert --format kube    Kubernetes YAML for the project
  build [SERVICE...]       build the images of services with build: (bocker build)]]

local function parse(name, args)
  return cli.parse(args, sub_specs[name], { name = "compose " .. name, usage = sub_usage[name] }, true)
end

--- The project for the global options; `targets` are service names given on the command line.
local function open(g, targets, fileless)
  -- down, ps, logs, stop, start and restart work with -p alone, without the file (as compose):
  -- the project's things are found by label and by its state folder.
  if fileless and g.project_name and not g.file then
    local ok = pcall(compose.load.discover)
    if not ok then
      local p = require("bocker.project").new { name = g.project_name, dir = bocker.fs.cwd() }
      p.fileless = true
      return p, {}, {}, { files = {}, dir = bocker.fs.cwd() }
    end
  end
  local p, active, model, info = compose.open {
    files = g.file, env_files = g.env_file, project_dir = g.project_directory, name = g.project_name,
    profiles = g.profile, targets = targets,
  }
  return p, active, model, info
end

local function each_container(p, services, fn)
  local only = {}
  for _, s in ipairs(services) do
    if not p.services[s] and not p.fileless then cli.fail("no such service: " .. s) end
    only[s] = true
  end
  for _, c in ipairs(p:containers()) do
    if not next(only) or only[c.labels["bocker.service"]] then fn(c) end
  end
end

--- The named services and what they depend on (all active ones when none are named).
local function needed(p, active, named)
  local wanted, queue = {}, {}
  for _, n in ipairs(#named > 0 and named or active) do queue[#queue + 1] = n end
  while #queue > 0 do
    local n = table.remove(queue)
    local s = p.services[n]
    if s and not wanted[n] then
      wanted[n] = true
      for _, d in ipairs(s.deps) do queue[#queue + 1] = d.name end
    end
  end
  return wanted
end

--- Builds the images of services with `build:` (those in `wanted`) with `bocker build`: all of
--- them with `force`, else only those whose image does not exist yet.
local function build_images(p, active, wanted, o)
  local build = bocker.load_command("build")
  for _, n in ipairs(active) do
    local b = (p.compose_build or {})[n]
    if b and wanted[n] and (o.force or not pcall(bocker.image.get, b.tag)) then
      if not o.quiet then print(("Image %s  Building"):format(b.tag)) end
      local argv = { "-t", b.tag }
      if b.dockerfile then argv[#argv + 1] = "-f"; argv[#argv + 1] = b.dockerfile end
      if b.target then argv[#argv + 1] = "--target"; argv[#argv + 1] = b.target end
      if b.network then argv[#argv + 1] = "--network"; argv[#argv + 1] = b.network end
      if b.no_cache or o.no_cache then argv[#argv + 1] = "--no-cache" end
      if b.pull or o.pull then argv[#argv + 1] = "--pull" end
      if o.quiet then argv[#argv + 1] = "-q" end
      local keys = {}
      for k in pairs(b.args or {}) do keys[#keys + 1] = k end
      table.sort(keys)
      for _, k in ipairs(keys) do argv[#argv + 1] = "--build-arg"; argv[#argv + 1] = k .. "=" .. b.args[k] end
      argv[#argv + 1] = b.context
      local ok, err = pcall(build.run, argv)
      if not ok then
        cli.fail(("services.%s.build: %s"):format(n, type(err) == "table" and err.message or tostring(err)))
      end
      if not o.quiet then print(("Image %s  Built"):format(b.tag)) end
    end
  end
end

--- Pulls the images `up` needs that are missing (pull_policy: missing, the default) or always
--- wanted fresh (always), for the named services and what they depend on (all when none).
local function pull_missing(p, active, wanted)
  local done = {}
  for _, n in ipairs(active) do
    local s = p.services[n]
    local image = s and wanted[n] and not (p.compose_build or {})[n] and s.def.image
    local policy = (p.pull_policy or {})[n] or "missing"
    local is_local = image and (image:match("^img_") or image:sub(1, 1) == "/" or image:sub(1, 1) == ".")
    if image and not is_local and not done[image] and policy ~= "never"
       and (policy == "always" or not pcall(bocker.image.get, image)) then
      done[image] = true
      print(("Image %s  Pulling"):format(image))
      local ok, err = pcall(bocker.image.pull, image)
      if not ok then
        cli.fail(("services.%s: cannot pull %s: %s"):format(n, image, type(err) == "table" and err.message or tostring(err)))
      end
      print(("Image %s  Pulled"):format(image))
    end
  end
end

--- Makes the missing host folders of short-syntax bind mounts (and long ones with
--- bind.create_host_path), as compose does, before `up` or `run` needs them.
local function make_bind_folders(p)
  for _, dir in ipairs(p.compose_mkdirs or {}) do
    if not bocker.fs.exists(dir) then bocker.fs.mkdir(dir) end
  end
end

local sub = {}

function sub.up(g, args)
  local o, rest = parse("up", args)
  local p, active = open(g, rest)
  local wanted = needed(p, active, rest)
  build_images(p, active, wanted, { force = o.build })
  pull_missing(p, active, wanted)
  make_bind_folders(p)
  p:up { services = rest, remove_orphans = o.remove_orphans, force_recreate = o.force_recreate,
         no_recreate = o.no_recreate, wait = o.wait == true, rollback = not o.no_rollback,
         timeout = o.timeout and cli.integer(o.timeout, o.timeout_spelling, 1) }
  if not o.detach then p:logs { follow = true, services = rest } end
  return 0
end

function sub.down(g, args)
  local o, rest = parse("down", args)
  if #rest > 0 then cli.fail("down takes no service names (it removes the whole project)") end
  local p = open(g, nil, true)
  p:down { volumes = o.volumes, timeout = o.timeout and cli.integer(o.timeout, o.timeout_spelling, 0) }
  return 0
end

function sub.ps(g, args)
  local o, rest = parse("ps", args)
  local p, active = open(g, nil, true)
  if o.services then
    for _, s in ipairs(active) do print(s) end
    return 0
  end
  if o.format and o.format ~= "json" and o.format ~= "table" then cli.fail("ps --format: use table or json") end
  local list = {}
  each_container(p, rest, function(c)
    if o.all or c.status == "running" then list[#list + 1] = c end
  end)
  if o.quiet then
    for _, c in ipairs(list) do print(c.id) end
  elseif o.format == "json" then
    for _, c in ipairs(list) do
      print(bocker.json {
        ID = c.id, Name = c.name, Service = c.labels["bocker.service"], Project = p.name,
        State = c.status, ExitCode = c.exit_code, Status = cli.status(c), Ports = c.ports,
      })
    end
  else
    local rows = {}
    for _, c in ipairs(list) do
      rows[#rows + 1] = { c.name, c.labels["bocker.service"] or "", c.id, cli.status(c), table.concat(c.ports, ", ") }
    end
    cli.table({ "NAME", "SERVICE", "CONTAINER ID", "STATUS", "PORTS" }, rows)
  end
  return 0
end

function sub.logs(g, args)
  local o, rest = parse("logs", args)
  local p = open(g, nil, true)
  for _, s in ipairs(rest) do if not p.services[s] and not p.fileless then cli.fail("no such service: " .. s) end end
  p:logs { follow = o.follow, services = rest }
  return 0
end

function sub.exec(g, args)
  local o, rest = cli.parse(args, sub_specs.exec, { name = "compose exec", usage = sub_usage.exec })
  local service = table.remove(rest, 1)
  if not service or #rest == 0 then cli.fail("usage: " .. sub_usage.exec) end
  local p = open(g)
  if not p.services[service] then cli.fail("no such service: " .. service) end
  return p:exec(service, rest, { index = o.index and cli.integer(o.index, "--index", 1) or 1,
                                 env = o.env, user = o.user, workdir = o.workdir })
end

function sub.run(g, args)
  local o, rest = cli.parse(args, sub_specs.run, { name = "compose run", usage = sub_usage.run })
  local service = table.remove(rest, 1)
  if not service then cli.fail("usage: " .. sub_usage.run) end
  local p = open(g, { service })
  local s = p.services[service]
  if not s then cli.fail("no such service: " .. service) end
  local all = {}
  for _, x in ipairs(p.order) do if x.kind == "service" then all[#all + 1] = x.name end end
  local wanted = needed(p, all, { service })
  build_images(p, all, wanted, {})
  pull_missing(p, all, wanted)
  make_bind_folders(p)
  -- Its dependencies first (as compose run does), then a one-off container of its settings.
  if not o.no_deps and #s.deps > 0 then
    local deps = {}
    for _, d in ipairs(s.deps) do deps[#deps + 1] = d.name end
    p:up { services = deps, wait = false }
  end
  p:plan()
  local spec = s.specs[1] or p:resolve(s, 1, s.image_id)
  local c = {}
  for k, v in pairs(spec) do c[k] = v end
  math.randomseed(math.floor(bocker.now() * 1e6))
  c.name = ("%s-%s-run-%06x"):format(p.name, service, math.random(0, 0xffffff))
  c.ports = nil                  -- compose run publishes nothing unless asked
  c.restart = nil
  c.labels = { ["bocker.compose.oneoff"] = p.name, ["bocker.compose.service"] = service }
  if #rest > 0 then c.cmd, c.shell = rest, false end
  if o.entrypoint then c.entrypoint = { o.entrypoint } end
  if o.user then c.user = o.user end
  if o.workdir then c.workdir = o.workdir end
  if o.env then
    c.env = c.env or {}
    for _, kv in ipairs(o.env) do
      if not kv:find("=", 1, true) then kv = kv .. "=" .. (os.getenv(kv) or "") end
      c.env[#c.env + 1] = kv
    end
  end
  local container = bocker.container.create(c)
  local code = container:run()
  if o.rm then pcall(container.remove, container, { force = true }) end
  return code
end

function sub.start(g, args)
  local _, rest = parse("start", args)
  local p = open(g, nil, true)
  each_container(p, rest, function(c)
    if c.status ~= "running" then c:start(); print(("Container %s  Started"):format(c.name)) end
  end)
  return 0
end

function sub.stop(g, args)
  local o, rest = parse("stop", args)
  local p = open(g, nil, true)
  local list = {}
  each_container(p, rest, function(c) list[#list + 1] = c end)
  p:stop_all(list, o.timeout and cli.integer(o.timeout, o.timeout_spelling, 0) or p.stop_timeout)
  for _, c in ipairs(list) do print(("Container %s  Stopped"):format(c.name)) end
  return 0
end

function sub.restart(g, args)
  local o, rest = parse("restart", args)
  local p = open(g, nil, true)
  local list = {}
  each_container(p, rest, function(c) list[#list + 1] = c end)
  p:stop_all(list, o.timeout and cli.integer(o.timeout, "-t", 0) or p.stop_timeout)
  for _, c in ipairs(list) do c:start(); print(("Container %s  Restarted"):format(c.name)) end
  return 0
end

function sub.pull(g, args)
  local o, rest = parse("pull", args)
  local p, active = open(g, rest)
  local wanted = #rest > 0 and rest or active
  local failed = false
  for _, name in ipairs(wanted) do
    local image = p.services[name].def.image
    if (p.compose_build or {})[name] then
      if not o.quiet then print(("%s  Skipped: built from %s"):format(name, p.compose_build[name].context)) end
    elseif image:match("^img_") or image:sub(1, 1) == "/" or image:sub(1, 1) == "." then
      if not o.quiet then print(("%s  Skipped: %s is a local image"):format(name, image)) end
    else
      local ok, err = pcall(bocker.image.pull, image)
      if ok then
        if not o.quiet then print(("%s  Pulled %s"):format(name, image)) end
      else
        failed = true
        io.stderr:write(("%s: cannot pull %s: %s\n"):format(name, image, type(err) == "table" and err.message or tostring(err)))
      end
    end
  end
  return failed and 1 or 0
end

function sub.build(g, args)
  local o, rest = parse("build", args)
  local p, active = open(g, rest)
  local wanted = {}
  for _, n in ipairs(#rest > 0 and rest or active) do
    if not p.services[n] then cli.fail("no such service: " .. n) end
    wanted[n] = true
  end
  build_images(p, active, wanted, { force = true, no_cache = o.no_cache, pull = o.pull, quiet = o.quiet })
  return 0
end

--- The resolved model: what `config` prints (services that are active, variables interpolated,
--- files merged, relative paths made absolute).
local function resolved(g)
  local p, active, model, info = open(g)
  local out = { name = p.name, services = {} }
  for _, name in ipairs(active) do out.services[name] = model.services[name] end
  for _, k in ipairs { "volumes", "networks", "configs", "secrets" } do
    if model[k] then out[k] = model[k] end
  end
  return out, p, active
end

function sub.config(g, args)
  local o = parse("config", args)
  local out, p, active = resolved(g)
  if o.quiet then return 0 end
  if o.services then for _, s in ipairs(active) do print(s) end return 0 end
  if o.volumes then for _, v in ipairs(p.volume_order) do print(v) end return 0 end
  if o.format == "json" then print(bocker.json(out, 2))
  elseif o.format == nil or o.format == "yaml" then io.write(bocker.yaml.encode(out))
  else cli.fail("config --format: use yaml or json") end
  return 0
end

function sub.convert(g, args)
  local o = parse("convert", args)
  if o.format ~= "kube" then return sub.config(g, args) end
  local p = open(g)
  local bm = o.bind_mounts or "emptydir"
  if bm ~= "emptydir" and bm ~= "pvc" and bm ~= "hostpath" then cli.fail("--bind-mounts: use emptydir, pvc or hostpath") end
  io.write(p:kube { registry = o.registry, bind_mounts = bm })
  return 0
end

local subcommands = {}
for k, v in pairs(sub_specs) do subcommands[k] = v end

return {
  summary = "Run a compose.yaml as a bocker project (up, down, ps, logs, exec, run, config, convert)",
  usage = usage,
  options = options,
  subcommands = subcommands,
  help = help,
  run = function(args)
    local g, rest = cli.parse(args, options, "compose")
    local name = table.remove(rest, 1)
    if name == nil then cli.print_help("compose"); return 2 end
    local f = sub[name]
    if not f then cli.fail(("unknown compose command '%s' (see 'bocker compose --help')"):format(name)) end
    return f(g, rest)
  end,
}
