-- bocker.project.model: the project table and the Project type; declarations (project.new,
-- p:volume, p:network, p:service, p:task) and their validation, which raise at the line of
-- the user's script.
local U = require "bocker.project.util"
local where_at, suggestion, sorted_keys, dirname = U.where_at, U.suggestion, U.sorted_keys, U.dirname

local project = {}

--- A project: its declarations (services, tasks, volumes, networks) and, after p:plan(), each
--- service's resolved replica specs. Methods come from the modules of bocker.project.
local Project = {}
Project.__index = Project

project.labels = { project = U.LABEL_PROJECT, service = U.LABEL_SERVICE, number = U.LABEL_NUMBER, hash = U.LABEL_HASH }

-- Declarations ----------------------------------------------------------------------------------

local NAME_PATTERN = "^[a-z0-9][a-z0-9-]*$"
local SERVICE_PATTERN = "^[a-zA-Z0-9][a-zA-Z0-9_.-]*$"

-- Service keys: the type(s) each accepts. "fn" means a function(index, service) giving the
-- value per replica is accepted too.
local SERVICE_KEYS = {
  image = { "string" },
  command = { "string", "table", fn = true },
  entrypoint = { "string", "table", fn = true },
  env = { "table", fn = true },
  env_file = { "string", "table", fn = true },
  ports = { "table", fn = true },
  volumes = { "table", fn = true },
  tmpfs = { "table", fn = true },
  network = { "string" },
  networks = { "table" },
  user = { "string", "number", fn = true },
  workdir = { "string", fn = true },
  memory = { "number", "string", fn = true },
  cpu_shares = { "number", fn = true },
  pids_limit = { "number", fn = true },
  restart = { "string", fn = true },
  replicas = { "number" },
  labels = { "table", fn = true },
  healthcheck = { "table", "string" },
  depends_on = { "table" },
  hostname = { "string", fn = true },
  init = { "boolean", fn = true },
  stop_timeout = { "number" },
  job = { "boolean" },
  kube_image = { "string" },
  aliases = { "table" },
  extra_hosts = { "table" },
  expose = { "table" },
  create = { "table", fn = true },
}

-- Options of bocker.container.create that the project itself decides (a service's `create`
-- table cannot set them).
local CREATE_OWNED = { image = true, name = true, cmd = true, entrypoint = true, shell = true, env = true, labels = true,
                       network = true, volumes = true, ports = true, tmpfs = true, restart = true, auto_remove = true,
                       healthcheck = true }
project.create_owned = CREATE_OWNED
local SERVICE_KEY_NAMES = sorted_keys(SERVICE_KEYS)

local HEALTH_KEYS = { test = true, interval = true, timeout = true, retries = true, start_period = true }
local HEALTH_KEY_NAMES = sorted_keys(HEALTH_KEYS)

local CONDITIONS = {
  started = "started", service_started = "started",
  healthy = "healthy", service_healthy = "healthy",
  completed_successfully = "completed_successfully", service_completed_successfully = "completed_successfully",
  completed = "completed_successfully",
}

project.defaults = {
  wait_timeout = 120,   -- seconds a dependent waits for a condition (depends_on {timeout=} overrides)
  stop_timeout = 10,    -- seconds between SIGTERM and SIGKILL when containers are stopped
  health = { interval = 30, timeout = 30, retries = 3, start_period = 0 },   -- Docker's
}

--- project.new{name=, dir=?, wait_timeout=?} → Project. `name` defaults to the name of the
--- script's folder (lower-cased, other characters as '-'); `dir` (the folder relative paths in
--- env_file and bind volumes are resolved against) defaults to the script's folder.
function project.new(opts)
  opts = opts or {}
  local where = where_at(2)
  if type(opts) ~= "table" then
    error("project.new needs a table such as { name = \"blog\" }", 2)
  end
  local info = debug.getinfo(2, "S")
  local script = info and info.source:sub(1, 1) == "@" and info.source:sub(2) or (arg and arg[0]) or "."
  local dir = opts.dir or dirname(script)
  local name = opts.name
  if name == nil then
    local abs = dir
    if abs:sub(1, 1) ~= "/" then abs = (os.getenv("PWD") or ".") .. "/" .. abs end
    name = (abs:gsub("/%.?$", ""):match("([^/]+)$") or "project"):lower():gsub("[^a-z0-9-]", "-"):gsub("^-+", "")
  end
  if type(name) ~= "string" or not name:match(NAME_PATTERN) or #name > 40 then
    error(("invalid project name '%s': use lower-case letters, digits and '-' (no '_': it separates a project from its networks and volumes)")
      :format(tostring(name)), 2)
  end
  for k in pairs(opts) do
    if k ~= "name" and k ~= "dir" and k ~= "wait_timeout" and k ~= "stop_timeout" then
      error(("project.new: unknown option '%s'"):format(tostring(k)), 2)
    end
  end
  return setmetatable({
    name = name,
    dir = dir,
    script = script,
    where = where,
    services = {},       -- name → service
    tasks = {},          -- name → task
    order = {},          -- services and tasks, in declaration order
    volumes = {},        -- name → {name=, real=, external=}
    volume_order = {},
    networks = { default = { name = "default", real = name .. "_default", implicit = true } },
    network_order = { "default" },
    wait_timeout = opts.wait_timeout or project.defaults.wait_timeout,
    stop_timeout = opts.stop_timeout or project.defaults.stop_timeout,
    out = io.stdout,
  }, Project)
end

--- p:volume(name [, {external = true, name = "real-name"}]): a named volume services can mount
--- as "name:/path". It is created as PROJECT_name (external: used as it is, never removed).
function Project:volume(name, opts)
  opts = opts or {}
  if type(name) ~= "string" or not name:match("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$") then
    error(("invalid volume name '%s'"):format(tostring(name)), 2)
  end
  if self.volumes[name] then error(("volume '%s' is declared twice"):format(name), 2) end
  local real = opts.external and (opts.name or name) or (self.name .. "_" .. name)
  self.volumes[name] = { name = name, real = real, external = opts.external == true, where = where_at(2) }
  self.volume_order[#self.volume_order + 1] = name
  return self
end

--- p:network(name [, {subnet = "10.89.7.0/24"} | {external = true, name = "real-name"}]): another
--- project network (PROJECT_name). Every project has "default"; services join it unless they
--- say `network = "..."`. An external network is used as it is: never created or removed.
function Project:network(name, opts)
  opts = opts or {}
  if type(name) ~= "string" or not name:match("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$") then
    error(("invalid network name '%s'"):format(tostring(name)), 2)
  end
  local existing = self.networks[name]
  if existing and not existing.implicit then error(("network '%s' is declared twice"):format(name), 2) end
  local real = opts.external and (opts.name or name) or (self.name .. "_" .. name)
  self.networks[name] = { name = name, real = real, subnet = opts.subnet, external = opts.external == true, where = where_at(2) }
  if not existing then self.network_order[#self.network_order + 1] = name end
  return self
end

local function check_name(self, kind, name, level)
  if type(name) ~= "string" or not name:match(SERVICE_PATTERN) then
    error(("invalid %s name '%s': use letters, digits, '_', '.' and '-'"):format(kind, tostring(name)), level + 1)
  end
  if self.services[name] or self.tasks[name] then
    error(("'%s' is declared twice"):format(name), level + 1)
  end
end

--- The services whose namespaces a service definition joins: network = "service:NAME", and
--- create.ipc / create.pid = "service:NAME" (sorted, each once).
function project.joined_services(def)
  local out, seen = {}, {}
  local function add(v)
    local x = type(v) == "string" and v:match("^service:(.+)$")
    if x and not seen[x] then seen[x] = true; out[#out + 1] = x end
  end
  add(def.network)
  if type(def.create) == "table" then add(def.create.ipc); add(def.create.pid) end
  table.sort(out)
  return out
end

local function parse_depends(def, level)
  local deps = {}
  for k, v in pairs(def) do
    local name, cond, timeout
    if type(k) == "number" then
      name, cond = v, "started"
    else
      name = k
      if type(v) == "string" then cond = v
      elseif type(v) == "table" then cond, timeout = v.condition or "started", v.timeout
      else error(("depends_on.%s: expected a condition such as \"healthy\""):format(tostring(k)), level + 1) end
    end
    if type(name) ~= "string" then error("depends_on: expected service names", level + 1) end
    local c = CONDITIONS[cond]
    if not c then
      error(("depends_on.%s: unknown condition '%s' (use started, healthy or completed_successfully)")
        :format(name, tostring(cond)), level + 1)
    end
    if timeout ~= nil and (type(timeout) ~= "number" or timeout <= 0) then
      error(("depends_on.%s: timeout must be a positive number of seconds"):format(name), level + 1)
    end
    deps[#deps + 1] = { name = name, condition = c, timeout = timeout }
  end
  table.sort(deps, function(a, b) return a.name < b.name end)
  return deps
end

local function declare_service(self, name, def, level)
  if type(def) ~= "table" then
    error(("service '%s' needs a table of settings"):format(name), level + 1)
  end
  for k, v in pairs(def) do
    local spec = SERVICE_KEYS[k]
    if not spec then
      error(("service '%s': unknown key '%s'%s"):format(name, tostring(k), suggestion(tostring(k), SERVICE_KEY_NAMES)), level + 1)
    end
    local ok = (spec.fn and type(v) == "function")
    for _, t in ipairs(spec) do if type(v) == t then ok = true end end
    if not ok then
      error(("service '%s': '%s' must be a %s%s, not a %s"):format(name, k, table.concat(spec, " or "),
        spec.fn and " (or a function of the replica number)" or "", type(v)), level + 1)
    end
  end
  if def.replicas ~= nil and (math.type(def.replicas) ~= "integer" or def.replicas < 0) then
    error(("service '%s': replicas must be a whole number, 0 or more"):format(name), level + 1)
  end
  if def.network and def.networks then
    error(("service '%s': give network or networks, not both"):format(name), level + 1)
  end
  if type(def.create) == "table" then
    for k in pairs(def.create) do
      if CREATE_OWNED[k] then
        error(("service '%s': create.%s is set by the project (use the service key instead)"):format(name, tostring(k)), level + 1)
      end
    end
  end
  for i, h in ipairs(def.extra_hosts or {}) do
    if type(h) ~= "string" or not h:match("^[%w_.-]+[:=].+$") then
      error(("service '%s': extra_hosts[%d] must be \"NAME:IP\" (or NAME:host-gateway)"):format(name, i), level + 1)
    end
  end
  for i, a in ipairs(def.aliases or {}) do
    if type(a) ~= "string" or not a:match(SERVICE_PATTERN) then
      error(("service '%s': aliases[%d] must be a host name"):format(name, i), level + 1)
    end
  end
  if def.networks and #def.networks ~= 1 then
    error(("service '%s': a bocker container joins one network (networks = { \"name\" })"):format(name), level + 1)
  end
  local hc = def.healthcheck
  if type(hc) == "string" then hc = { test = hc } end
  if hc then
    for k in pairs(hc) do
      if not HEALTH_KEYS[k] then
        error(("service '%s': healthcheck: unknown key '%s'%s"):format(name, tostring(k), suggestion(tostring(k), HEALTH_KEY_NAMES)), level + 1)
      end
    end
    local t = hc.test
    if type(t) ~= "string" and type(t) ~= "table" and type(t) ~= "function" then
      error(("service '%s': healthcheck.test must be a shell string, a command list or a function"):format(name), level + 1)
    end
    for _, k in ipairs { "interval", "timeout", "start_period" } do
      if hc[k] ~= nil and (type(hc[k]) ~= "number" or hc[k] < 0) then
        error(("service '%s': healthcheck.%s must be a number of seconds"):format(name, k), level + 1)
      end
    end
    if hc.retries ~= nil and (math.type(hc.retries) ~= "integer" or hc.retries < 1) then
      error(("service '%s': healthcheck.retries must be a whole number, 1 or more"):format(name), level + 1)
    end
    if type(t) == "table" and (t[1] == "NONE") then hc = nil end
  end
  local s = {
    kind = "service",
    name = name,
    def = def,
    where = where_at(level + 1),
    replicas = def.replicas or 1,
    healthcheck = hc,
    deps = parse_depends(def.depends_on or {}, level + 1),
    job = def.job == true,
    joins = project.joined_services(def),
  }
  -- Joining another service's namespaces (network = "service:db") waits for it to start, as
  -- compose's implied dependency does.
  for _, x in ipairs(s.joins) do
    local listed = false
    for _, d in ipairs(s.deps) do if d.name == x then listed = true end end
    if not listed then s.deps[#s.deps + 1] = { name = x, condition = "started" } end
  end
  table.sort(s.deps, function(a, b) return a.name < b.name end)
  self.services[name] = s
  self.order[#self.order + 1] = s
  return s
end

--- p:service "name" { settings } (or p:service("name", {settings})): declares a service. See
--- docs/orchestration.md for the keys. Returns the service.
function Project:service(name, def)
  check_name(self, "service", name, 2)
  if def == nil then
    return function(d)
      if self.services[name] or self.tasks[name] then error(("'%s' is declared twice"):format(name), 2) end
      local s = declare_service(self, name, d, 2)
      return s   -- (not a tail call: the levels of error positions count this frame)
    end
  end
  local s = declare_service(self, name, def, 2)
  return s
end

--- p:task "name" { depends_on = {...}, run = function(p) ... end }: a step of Lua code that `up`
--- runs once its dependencies are met (a migration, a check). It succeeds when run returns
--- anything but false/nil-and-a-message and does not raise; services can depend on it.
function Project:task(name, def)
  check_name(self, "task", name, 2)
  local function declare(d, level)
    if type(d) ~= "table" or type(d.run) ~= "function" then
      error(("task '%s' needs { run = function(project) ... end }"):format(name), level + 1)
    end
    for k in pairs(d) do
      if k ~= "run" and k ~= "depends_on" then
        error(("task '%s': unknown key '%s'"):format(name, tostring(k)), level + 1)
      end
    end
    local t = { kind = "task", name = name, def = d, where = where_at(level + 1),
                deps = parse_depends(d.depends_on or {}, level + 1) }
    self.tasks[name] = t
    self.order[#self.order + 1] = t
    return t
  end
  if def == nil then
    return function(d)
      local t = declare(d, 2)
      return t
    end
  end
  local t = declare(def, 2)
  return t
end

return { project = project, Project = Project }
