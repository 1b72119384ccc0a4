-- bocker.project: multi-container projects written as Lua programs (compose's model, as code).
--
--   local project = require "bocker.project"
--   local p = project.new { name = "blog" }
--   p:volume "content"
--   p:service "web" { image = IMG, command = "httpd -f -p 80 -h /data", volumes = { "content:/data" },
--                     ports = { "8080:80" }, healthcheck = { test = "wget -qO- http://127.0.0.1/" } }
--   return p:main(arg)      -- up / down / ps / logs / exec / scale / config / export kube
--
-- Everything a project makes is named after it (containers PROJECT-SERVICE-N, networks
-- PROJECT_NET, volumes PROJECT_VOL) and its containers carry the labels bocker.project,
-- bocker.service, bocker.container-number and bocker.config-hash, so that `up` can find what
-- exists and change only what differs, and `down` can remove exactly what the project made.
-- Pure Lua over the bocker API; see docs/orchestration.md.
local cli = require "bocker.cli"

local project = {}

local Project = {}
Project.__index = Project

local LABEL_PROJECT = "bocker.project"
local LABEL_SERVICE = "bocker.service"
local LABEL_NUMBER = "bocker.container-number"
local LABEL_HASH = "bocker.config-hash"

project.labels = { project = LABEL_PROJECT, service = LABEL_SERVICE, number = LABEL_NUMBER, hash = LABEL_HASH }

-- Errors ----------------------------------------------------------------------------------------

--- Raises a bocker error whose `where` is `where` (a "file.lua:LINE: " of the user's script).
local function raise(where, code, fmt, ...)
  local e = bocker.error(code, select("#", ...) > 0 and fmt:format(...) or fmt)
  e.where = where or ""
  error(e, 0)
end

--- "file.lua:LINE: " of the function `level` levels above the caller of this function.
local function where_at(level)
  local info = debug.getinfo(level + 1, "Sl")
  if not info or info.currentline <= 0 then return "" end
  return ("%s:%d: "):format(info.short_src, info.currentline)
end

--- The message of any error value (a bocker error, a string or anything else).
local function message_of(err)
  if type(err) == "table" and err.message then return err.message end
  return tostring(err)
end

--- Levenshtein distance, for "did you mean" hints.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

local function suggestion(word, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if d <= 2 and (not bestd or d < bestd) then best, bestd = c, d end
  end
  return best and (" (did you mean '" .. best .. "'?)") or ""
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Small helpers ---------------------------------------------------------------------------------

--- FNV-1a, 64 bits, as 16 hex digits (Lua integers wrap, which is what FNV wants).
local function fnv1a64(s)
  local h = -3750763034362895579   -- 0xcbf29ce484222325
  for i = 1, #s do
    h = h ~ s:byte(i)
    h = h * 1099511628211
  end
  return ("%016x"):format(h)
end

local function shquote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local function file_exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

--- Whether a command given as one string needs /bin/sh (the rule of `bocker run`).
local function needs_shell(s)
  return s:find("[%s;&|<>()$`\\\"'*?~#{}%[%]]") ~= nil
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return out
end

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
}
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
  health = { interval = 1, timeout = nil, retries = 10, start_period = 0 },
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

--- p:network(name [, {subnet = "10.89.7.0/24"}]): another project network (PROJECT_name).
--- Every project has "default"; services join it unless they say `network = "..."`.
function Project:network(name, opts)
  opts = opts or {}
  if type(name) ~= "string" or not name:match("^[a-zA-Z0-9][a-zA-Z0-9_.-]*$") then
    error(("invalid network name '%s'"):format(tostring(name)), 2)
  end
  local existing = self.networks[name]
  if existing and not existing.implicit then error(("network '%s' is declared twice"):format(name), 2) end
  self.networks[name] = { name = name, real = self.name .. "_" .. name, subnet = opts.subnet, where = where_at(2) }
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
  }
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

-- Resolving: from declarations to container specs -----------------------------------------------

--- The project's state folder: $BOCKER_ROOT/projects/NAME (hosts files, the resources it made).
function Project:state_dir()
  return bocker.root() .. "/projects/" .. self.name
end

local function ensure_dir(path)
  local ok = os.execute("mkdir -p " .. shquote(path))
  if not ok then raise("", "io", "cannot create the folder '%s'", path) end
end

local function read_env_file(s, path, required)
  local out, err = require("bocker.cli").read_env_file(path)
  if not out then
    if required == false then return {} end
    raise(s.where, "not_found", "service '%s': cannot read env_file '%s': %s", s.name, path, err)
  end
  return out
end

function Project:abs(path)
  if path:sub(1, 1) == "/" then return path end
  local d = self.dir
  if d:sub(1, 1) ~= "/" then d = (os.getenv("PWD") or ".") .. "/" .. d end
  path = path:gsub("^%./", "")
  return d .. "/" .. path
end

--- The network a service joins: {mode = "project", net = <project network>} or
--- {mode = "host"|"none"|"bridge"}.
function Project:service_network(s)
  local n = s.def.network or (s.def.networks and s.def.networks[1]) or "default"
  if n == "host" or n == "none" or n == "bridge" then return { mode = n, real = n } end
  local net = self.networks[n]
  if not net then
    raise(s.where, "invalid_argument", "service '%s': network '%s' is not declared (add p:network \"%s\")", s.name, n, n)
  end
  return { mode = "project", net = net, real = net.real }
end

function Project:hosts_path(net)
  return self:state_dir() .. "/hosts." .. net.real
end

--- The create options of replica `i` of service `s` (without the project's labels), and the
--- config hash over them and the image id.
function Project:resolve(s, i, image_id)
  local def = s.def
  local function v(key)
    local x = def[key]
    if type(x) == "function" then
      local ok, r = pcall(x, i, s.name)
      if not ok then raise(s.where, "invalid_argument", "service '%s': %s(%d) failed: %s", s.name, key, i, message_of(r)) end
      x = r
    end
    return x
  end
  local spec = { image = image_id, name = ("%s-%s-%d"):format(self.name, s.name, i) }

  local cmd = v("command")
  if type(cmd) == "string" then spec.cmd, spec.shell = { cmd }, needs_shell(cmd)
  elseif type(cmd) == "table" then spec.cmd = copy(cmd)
  elseif cmd ~= nil then raise(s.where, "invalid_argument", "service '%s': command must be a string or a list", s.name) end
  local ep = v("entrypoint")
  if type(ep) == "string" then spec.entrypoint = { ep } elseif type(ep) == "table" then spec.entrypoint = copy(ep) end

  local env = {}
  local files = v("env_file")
  if type(files) == "string" then files = { files } end
  for _, fdef in ipairs(files or {}) do
    local path, required = fdef, true
    if type(fdef) == "table" then path, required = fdef.path or fdef[1], fdef.required end
    for _, kv in ipairs(read_env_file(s, self:abs(path), required)) do env[#env + 1] = kv end
  end
  local e = v("env")
  if type(e) == "table" then
    for _, kv in ipairs(e) do env[#env + 1] = tostring(kv) end
    local keys = {}
    for k in pairs(e) do if type(k) == "string" then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do env[#env + 1] = k .. "=" .. tostring(e[k]) end
  end
  if #env > 0 then spec.env = env end

  spec.workdir = v("workdir")
  local user = v("user")
  spec.user = user ~= nil and tostring(user) or nil
  local mem = v("memory")
  if type(mem) == "string" then
    local ok, r = pcall(cli.bytes, mem, "memory")
    if not ok then raise(s.where, "invalid_argument", "service '%s': %s", s.name, message_of(r)) end
    mem = r
  end
  spec.memory = mem
  spec.cpu_shares = v("cpu_shares")
  spec.pids_limit = v("pids_limit")
  spec.restart = v("restart")
  spec.hostname = v("hostname")
  spec.init = v("init")

  local ports = v("ports")
  if ports then
    spec.ports = {}
    for _, p in ipairs(ports) do spec.ports[#spec.ports + 1] = tostring(p) end
  end
  spec.tmpfs = v("tmpfs") and copy(v("tmpfs")) or nil

  local vols = v("volumes")
  if vols then
    spec.volumes = {}
    for _, vol in ipairs(vols) do
      if type(vol) ~= "string" then raise(s.where, "invalid_argument", "service '%s': volumes are strings such as \"data:/data\"", s.name) end
      local src, rest = vol:match("^([^:]+)(:.+)$")
      if not src then raise(s.where, "invalid_argument", "service '%s': bad volume '%s' (use SOURCE:/PATH[:ro])", s.name, vol) end
      if src:sub(1, 1) == "/" then
        spec.volumes[#spec.volumes + 1] = vol
      elseif src:sub(1, 1) == "." or src:sub(1, 1) == "~" then
        if src:sub(1, 1) == "~" then src = (os.getenv("HOME") or "") .. src:sub(2) end
        spec.volumes[#spec.volumes + 1] = self:abs(src) .. rest
      else
        local decl = self.volumes[src]
        if not decl then
          raise(s.where, "invalid_argument", "service '%s': volume '%s' is not declared (add p:volume \"%s\")", s.name, src, src)
        end
        spec.volumes[#spec.volumes + 1] = decl.real .. rest
      end
    end
  end

  local net = self:service_network(s)
  spec.network = net.real
  if net.mode == "project" then
    -- Service names resolve through a project hosts file (see write_hosts).
    spec.volumes = spec.volumes or {}
    spec.volumes[#spec.volumes + 1] = self:hosts_path(net.net) .. ":/etc/hosts:ro"
  end

  local labels = {}
  local l = v("labels")
  for k, val in pairs(l or {}) do
    if type(k) ~= "string" or k:match("^bocker%.") then
      raise(s.where, "invalid_argument", "service '%s': label '%s' is reserved or not a string", s.name, tostring(k))
    end
    labels[k] = tostring(val)
  end
  spec.labels = labels

  local hash = fnv1a64(bocker.json(spec))
  return spec, hash
end

--- Resolves the whole project: checks dependencies, images and settings, and gives every
--- service its replica specs. Nothing is changed. Raises with the declaring line.
function Project:plan(opts)
  opts = opts or {}
  for _, n in ipairs(self.order) do
    for _, d in ipairs(n.deps) do
      local t = self.services[d.name] or self.tasks[d.name]
      if not t then
        local names = {}
        for _, x in ipairs(self.order) do names[#names + 1] = x.name end
        raise(n.where, "invalid_argument", "%s '%s' depends on '%s', which is not declared%s", n.kind, n.name, d.name,
          suggestion(d.name, names))
      end
      if d.condition == "healthy" and t.kind == "service" and not t.healthcheck then
        raise(n.where, "invalid_argument", "%s '%s' waits for '%s' to be healthy, but '%s' has no healthcheck",
          n.kind, n.name, d.name, d.name)
      end
      if d.name == n.name then raise(n.where, "invalid_argument", "%s '%s' depends on itself", n.kind, n.name) end
    end
  end
  -- Cycles (depth-first, reporting the loop).
  local state = {}
  local function visit(n, path)
    if state[n.name] == "done" then return end
    if state[n.name] == "visiting" then
      local loop = {}
      local start = false
      for _, x in ipairs(path) do
        if x == n.name then start = true end
        if start then loop[#loop + 1] = x end
      end
      loop[#loop + 1] = n.name
      raise(n.where, "invalid_argument", "dependency cycle: %s", table.concat(loop, " -> "))
    end
    state[n.name] = "visiting"
    path[#path + 1] = n.name
    for _, d in ipairs(n.deps) do visit(self.services[d.name] or self.tasks[d.name], path) end
    path[#path] = nil
    state[n.name] = "done"
  end
  for _, n in ipairs(self.order) do visit(n, {}) end

  -- Jobs: services others wait on to complete.
  for _, n in ipairs(self.order) do
    for _, d in ipairs(n.deps) do
      local t = self.services[d.name]
      if t and d.condition == "completed_successfully" then t.job = true end
    end
  end

  for _, s in ipairs(self.order) do
    if s.kind == "service" then
      if opts.images ~= false then
        if type(s.def.image) ~= "string" then
          raise(s.where, "invalid_argument", "service '%s' has no image (image = \"...\": an image id or the folder given to 'bocker init')", s.name)
        end
        local ok, img = pcall(bocker.image.get, s.def.image)
        if not ok then
          raise(s.where, type(img) == "table" and img.code or "not_found", "service '%s': %s (make one with 'bocker init DIR')", s.name, message_of(img))
        end
        s.image_id = img.id
      end
      s.specs, s.hashes = {}, {}
      for i = 1, (self.replica_override and self.replica_override[s.name]) or s.replicas do
        s.specs[i], s.hashes[i] = self:resolve(s, i, s.image_id or s.def.image)
      end
    end
  end
end

-- What exists -----------------------------------------------------------------------------------

--- The project's containers (from their labels), oldest first. With `service`, only its.
function Project:containers(service)
  local out = {}
  for _, c in ipairs(bocker.container.list()) do
    local l = c.labels
    if l[LABEL_PROJECT] == self.name and (service == nil or l[LABEL_SERVICE] == service) then out[#out + 1] = c end
  end
  table.sort(out, function(a, b)
    local sa, sb = a.labels[LABEL_SERVICE] or "", b.labels[LABEL_SERVICE] or ""
    if sa ~= sb then return sa < sb end
    return (tonumber(a.labels[LABEL_NUMBER]) or 0) < (tonumber(b.labels[LABEL_NUMBER]) or 0)
  end)
  return out
end

--- Replica `i` (default 1) of a service: a Container, or nil.
function Project:container(service, i)
  local ok, c = pcall(bocker.container.get, ("%s-%s-%d"):format(self.name, service, i or 1))
  if ok and c.labels[LABEL_PROJECT] == self.name then return c end
  return nil
end

-- The resources the project made, recorded before each is made so that a crash in between
-- still leaves the next `down` knowing about it.
local function resources_path(self) return self:state_dir() .. "/resources" end

function Project:made()
  local made = { network = {}, volume = {} }
  local f = io.open(resources_path(self), "r")
  if f then
    for line in f:lines() do
      local kind, name = line:match("^(%a+) (.+)$")
      if kind and made[kind] then made[kind][name] = true end
    end
    f:close()
  end
  return made
end

function Project:record(kind, name)
  if self:made()[kind][name] then return end
  ensure_dir(self:state_dir())
  local f = assert(io.open(resources_path(self), "a"))
  f:write(kind, " ", name, "\n")
  f:close()
end

function Project:say(fmt, ...)
  self.out:write(fmt:format(...), "\n")
  self.out:flush()
end

--- Writes the project hosts file of a network: every running container of the project on it,
--- under its service name, SERVICE-N, its container name and id. The file is bind-mounted
--- read-only on /etc/hosts of the project's containers, so it is rewritten in place (same
--- inode), never truncated first: a reader sees the old text or the new one padded with blanks.
function Project:write_hosts(net)
  local lines = { "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback" }
  for _, c in ipairs(self:containers()) do
    if c.status == "running" and c.network and c.network_mode == net.real then
      local svc, n = c.labels[LABEL_SERVICE], c.labels[LABEL_NUMBER]
      lines[#lines + 1] = ("%s\t%s %s-%s %s %s"):format(c.network.ip, svc, svc, n, c.name, c.id)
    end
  end
  local text = table.concat(lines, "\n") .. "\n"
  local path = self:hosts_path(net)
  local f = io.open(path, "r+b")
  if not f then
    ensure_dir(self:state_dir())
    f = assert(io.open(path, "wb"))
  end
  local old = f:seek("end")
  f:seek("set", 0)
  if #text < old then text = text .. "#" .. string.rep(" ", old - #text - 2) .. "\n" end
  f:write(text)
  f:close()
end

-- up --------------------------------------------------------------------------------------------

local function tail_of_logs(c, n)
  local ok, entries = pcall(function() return c:logs() end)
  if not ok then return "" end
  local text = {}
  for _, e in ipairs(entries) do text[#text + 1] = e.text end
  local lines = {}
  for line in table.concat(text):gmatch("[^\n]+") do lines[#lines + 1] = line end
  local from = math.max(1, #lines - (n or 3) + 1)
  local out = table.concat(lines, " / ", from)
  if out == "" then return "" end
  return " (last output: " .. out .. ")"
end

--- Stops containers together: SIGTERM to all, then SIGKILL to those still running after
--- `timeout` seconds. A stop request also keeps restart policies from bringing them back.
function Project:stop_all(list, timeout)
  local running = {}
  for _, c in ipairs(list) do
    c:refresh()
    if c.status == "running" then
      if pcall(c.kill, c, "TERM") then running[#running + 1] = c end
    end
  end
  local deadline = bocker.now() + timeout
  while #running > 0 and bocker.now() < deadline do
    local left = {}
    for _, c in ipairs(running) do
      local ok = pcall(c.refresh, c)
      if ok and c.status == "running" then left[#left + 1] = c end
    end
    running = left
    if #running > 0 then bocker.sleep(0.02) end
  end
  for _, c in ipairs(running) do pcall(c.kill, c, "KILL") end
end

function Project:remove_container(c, timeout)
  self:stop_all({ c }, timeout)
  c:remove { force = true }
end

function Project:ensure_networks(needed)
  local made = false
  for _, name in ipairs(self.network_order) do
    local net = self.networks[name]
    if needed[net.real] then
      if not pcall(bocker.network.get, net.real) then
        self:record("network", net.real)
        local ok, err = pcall(bocker.network.create, { name = net.real, subnet = net.subnet })
        if not ok then raise(net.where or self.where, err.code or "invalid_argument", "network '%s': %s", net.real, message_of(err)) end
        self:say("Network %s  Created", net.real)
        made = true
      end
      self:write_hosts(net)
    end
  end
  return made
end

function Project:ensure_volumes(needed)
  for _, name in ipairs(self.volume_order) do
    local v = self.volumes[name]
    if needed[v.real] and not pcall(bocker.volume.get, v.real) then
      if v.external then
        raise(v.where, "not_found", "external volume '%s' does not exist (create it with 'bocker volume create %s')", v.real, v.real)
      end
      self:record("volume", v.real)
      bocker.volume.create { name = v.real }
      self:say("Volume %s  Created", v.real)
    end
  end
end

--- Brings one service's containers to its specs: creates what is missing, recreates what
--- changed, starts what is stopped (a job's container that exited 0 counts as done), and
--- removes replicas beyond the count.
function Project:converge(s, opts)
  local existing = {}
  for _, c in ipairs(self:containers(s.name)) do
    existing[tonumber(c.labels[LABEL_NUMBER]) or 0] = c
  end
  s.live, s.announced = {}, {}
  local changed = false
  for i, spec in ipairs(s.specs) do
    local c = existing[i]
    existing[i] = nil
    local hash = s.hashes[i]
    if not c then
      local ok, other = pcall(bocker.container.get, spec.name)
      if ok then
        raise(s.where, "exists", "service '%s': the container name '%s' is taken by a container that is not part of project '%s' (%s)",
          s.name, spec.name, self.name, other.id)
      end
    end
    local action
    if c and (c.labels[LABEL_HASH] ~= hash or opts.force_recreate) then
      if not opts.no_recreate then
        self:remove_container(c, s.def.stop_timeout or self.stop_timeout)
        c, action = nil, "Recreated"
      end
    end
    if not c then
      local create = copy(spec)
      create.labels[LABEL_PROJECT] = self.name
      create.labels[LABEL_SERVICE] = s.name
      create.labels[LABEL_NUMBER] = tostring(i)
      create.labels[LABEL_HASH] = hash
      local ok, r = pcall(bocker.container.create, create)
      if not ok then raise(s.where, r.code or "invalid_argument", "service '%s': cannot create %s: %s", s.name, spec.name, message_of(r)) end
      c = r
      action = action or "Created"
      changed = true
    end
    c:refresh()
    if c.status == "running" then
      self:say("Container %s  %s", c.name, action or "Running")
    elseif c.status == "exited" and c.exit_code == 0 and s.job and not action then
      self:say("Container %s  Completed", c.name)
      s.announced[i] = true
    else
      local ok, err = pcall(c.start, c)
      if not ok then
        raise(s.where, err.code or "invalid_state", "service '%s': cannot start %s: %s", s.name, c.name, message_of(err))
      end
      if action then self:say("Container %s  %s", c.name, action) end
      self:say("Container %s  Started", c.name)
      changed = true
    end
    s.live[i] = c
  end
  for _, c in pairs(existing) do
    self:remove_container(c, s.def.stop_timeout or self.stop_timeout)
    self:say("Container %s  Removed", c.name)
    changed = true
  end
  local net = self:service_network(s)
  if net.mode == "project" and changed then self:write_hosts(net.net) end
  s.started_at = bocker.now()
end

-- Conditions: each service's progress towards started / healthy / completed, updated by `poll`.

local function health_argv(hc)
  local t = hc.test
  local argv
  if type(t) == "string" then argv = { "/bin/sh", "-c", t }
  elseif t[1] == "CMD-SHELL" then argv = { "/bin/sh", "-c", t[2] }
  elseif t[1] == "CMD" then argv = table.move(t, 2, #t, 1, {})
  else argv = copy(t) end
  if hc.timeout then
    table.insert(argv, 1, tostring(math.max(1, math.ceil(hc.timeout))))
    table.insert(argv, 1, "timeout")
  end
  return argv
end

--- Runs one health check of container c: ok, what it said.
function Project:check_health(s, c)
  local hc = s.healthcheck
  if type(hc.test) == "function" then
    local ok, r, msg = pcall(hc.test, c, self)
    if not ok then return false, message_of(r) end
    return r and true or false, msg or ""
  end
  local t0 = bocker.now()
  local ok, code, out, err = pcall(c.exec, c, health_argv(hc), { capture = true })
  if not ok then return false, message_of(code) end
  local said = ((err or "") ~= "" and err or out or ""):gsub("%s+$", ""):gsub("\n", " / ")
  if hc.timeout and bocker.now() - t0 > hc.timeout then
    return false, ("the check took longer than its timeout of %gs"):format(hc.timeout)
  end
  if code ~= 0 then return false, ("exit code %d%s"):format(code, said ~= "" and (": " .. said) or "") end
  return true, said
end

--- Advances the conditions of service s; returns the time of its next check (or nil).
--- Raises when s can never reach `want` (unhealthy, exited, failed).
function Project:poll(s, want, now)
  if want == "started" then s.is_started = true return nil end
  if want == "completed_successfully" then
    local all = true
    for _, c in ipairs(s.live) do
      c:refresh()
      if c.status == "exited" then
        -- A record can read "exited" (code 137) for a moment after the process ended and
        -- before its monitor has written the real exit code: wait() returns the settled one.
        c:wait()
        c:refresh()
        if c.exit_code ~= 0 then
          raise(s.where, "invalid_state", "service '%s' did not complete successfully: %s exited with code %d%s",
            s.name, c.name, c.exit_code or -1, tail_of_logs(c))
        end
      else
        all = false
      end
    end
    if all and not s.completed then
      for i, c in ipairs(s.live) do
        if not s.announced[i] then self:say("Container %s  Exited (0)", c.name) end
      end
    end
    s.completed = all
    return not all and now + 0.02 or nil
  end
  -- healthy
  local hc = s.healthcheck
  local interval = hc.interval or project.defaults.health.interval
  local retries = hc.retries or project.defaults.health.retries
  local start_period = hc.start_period or project.defaults.health.start_period
  s.health = s.health or {}
  local all, next_due = true, nil
  for i, c in ipairs(s.live) do
    local h = s.health[i] or { failures = 0, checks = 0, next = now, since = now }
    s.health[i] = h
    if not h.healthy then
      all = false
      if now >= h.next then
        c:refresh()
        local policy = "no"
        if c.status ~= "running" then
          local hcfg = c:inspect().HostConfig
          policy = hcfg and hcfg.RestartPolicy and hcfg.RestartPolicy.Name or "no"
        end
        -- Not running and no restart policy to bring it back: it will never be healthy.
        if c.status ~= "running" and (policy == "no" or policy == "") then
          c:wait()
          c:refresh()
          raise(s.where, "invalid_state", "service '%s' is not healthy: %s exited with code %s before its healthcheck passed%s",
            s.name, c.name, tostring(c.exit_code), tail_of_logs(c))
        end
        local ok, said = self:check_health(s, c)
        h.checks = h.checks + 1
        if ok then
          h.healthy = true
          self:say("Container %s  Healthy", c.name)
        else
          h.last = said
          if bocker.now() - h.since >= start_period then h.failures = h.failures + 1 end
          if h.failures >= retries then
            raise(s.where, "invalid_state", "service '%s' is unhealthy after %d checks: %s", s.name, h.checks, said)
          end
          h.next = bocker.now() + interval
        end
      end
      if not h.healthy and (not next_due or h.next < next_due) then next_due = h.next end
    end
  end
  s.healthy = all or (function()
    for i in ipairs(s.live) do if not s.health[i].healthy then return false end end
    return true
  end)()
  return next_due
end

local function satisfied(t, condition)
  if t.kind == "task" then return t.done == true end
  if condition == "started" then return t.is_started == true end
  if condition == "healthy" then return t.healthy == true end
  return t.completed == true
end

--- The condition `up` waits for when nobody depends on s: healthy if it has a healthcheck,
--- completed if it is a job, else started.
local function natural(s)
  if s.kind == "task" then return "completed_successfully" end
  if s.job then return "completed_successfully" end
  if s.healthcheck then return "healthy" end
  return "started"
end

--- p:up{services = {...}?, remove_orphans=, force_recreate=, no_recreate=, wait = true}:
--- brings the project (or the named services and what they depend on) up. Returns nothing;
--- raises (naming the service and its line) when a service cannot reach its condition.
function Project:up(opts)
  opts = opts or {}
  self:plan()
  -- Which nodes: all, or the named ones and their dependencies.
  local wanted = {}
  if opts.services and #opts.services > 0 then
    local function add(name)
      if wanted[name] then return end
      local n = self.services[name] or self.tasks[name]
      if not n then cli.fail(("no such service: %s"):format(name)) end
      wanted[name] = true
      for _, d in ipairs(n.deps) do add(d.name) end
    end
    for _, name in ipairs(opts.services) do add(name) end
  else
    for _, n in ipairs(self.order) do wanted[n.name] = true end
  end

  -- Orphans: containers of services that are no longer declared.
  if not opts.services or #opts.services == 0 then
    local orphans = {}
    for _, c in ipairs(self:containers()) do
      if not self.services[c.labels[LABEL_SERVICE] or ""] then orphans[#orphans + 1] = c end
    end
    if #orphans > 0 then
      if opts.remove_orphans then
        self:stop_all(orphans, self.stop_timeout)
        for _, c in ipairs(orphans) do
          c:remove { force = true }
          self:say("Container %s  Removed (orphan)", c.name)
        end
      else
        local names = {}
        for _, c in ipairs(orphans) do names[#names + 1] = c.name end
        io.stderr:write(("warning: containers of services that are not declared any more: %s (up --remove-orphans removes them)\n")
          :format(table.concat(names, ", ")))
      end
    end
  end

  local nets, vols = {}, {}
  for _, n in ipairs(self.order) do
    if n.kind == "service" and wanted[n.name] then
      for _, spec in ipairs(n.specs) do
        nets[spec.network] = true
        for _, v in ipairs(spec.volumes or {}) do vols[v:match("^([^:]+)")] = true end
      end
      if #n.specs == 0 then nets[self:service_network(n).real] = true end
    end
  end
  self:ensure_networks(nets)
  self:ensure_volumes(vols)

  -- The schedule: start every node whose dependencies are met, then advance the conditions
  -- that someone waits on (health checks of all services interleave), until everything has
  -- started and (with wait) reached its own condition.
  local pending, waiting_since = {}, {}
  for _, n in ipairs(self.order) do
    if wanted[n.name] then pending[#pending + 1] = n end
  end
  local t0 = bocker.now()
  while true do
    local progressed = false
    local now = bocker.now()
    local still = {}
    for _, n in ipairs(pending) do
      local ready = true
      for _, d in ipairs(n.deps) do
        local t = self.services[d.name] or self.tasks[d.name]
        if not satisfied(t, d.condition) then
          ready = false
          waiting_since[n.name] = waiting_since[n.name] or now
          local limit = d.timeout or self.wait_timeout
          if now - waiting_since[n.name] > limit then
            raise(n.where, "invalid_state", "%s '%s' gave up after %gs waiting for '%s' to be %s", n.kind, n.name, limit,
              d.name, d.condition:gsub("_", " "))
          end
        end
      end
      if ready then
        if n.kind == "service" then
          self:converge(n, opts)
        else
          self:say("Task %s  Running", n.name)
          local ok, r, msg = pcall(n.def.run, self)
          if not ok then raise(n.where, "invalid_state", "task '%s' failed: %s", n.name, message_of(r)) end
          if r == false or (r == nil and msg ~= nil) then
            raise(n.where, "invalid_state", "task '%s' failed%s", n.name, msg and (": " .. tostring(msg)) or "")
          end
          n.done = true
          self:say("Task %s  Done", n.name)
        end
        progressed = true
      else
        still[#still + 1] = n
      end
    end
    pending = still

    -- The conditions to advance: those pending nodes wait on, and (with wait) everyone's own.
    local wants = {}
    for _, n in ipairs(pending) do
      for _, d in ipairs(n.deps) do
        local t = self.services[d.name]
        if t and t.live then wants[t] = wants[t] or {}; wants[t][d.condition] = true end
      end
    end
    if opts.wait ~= false then
      for _, n in ipairs(self.order) do
        if wanted[n.name] and n.kind == "service" and n.live then
          wants[n] = wants[n] or {}
          wants[n][natural(n)] = true
        end
      end
    end
    local next_due, unmet = nil, false
    now = bocker.now()
    for _, n in ipairs(self.order) do
      local w = wants[n]
      if w then
        for cond in pairs(w) do
          if not satisfied(n, cond) then
            local due = self:poll(n, cond, now)
            if not satisfied(n, cond) then
              unmet = true
              if due and (not next_due or due < next_due) then next_due = due end
            else
              progressed = true
            end
          end
        end
      end
    end
    if #pending == 0 and not unmet then break end
    if opts.wait ~= false and unmet and bocker.now() - t0 > (opts.timeout or self.wait_timeout) then
      raise(self.where, "invalid_state", "project '%s' is not up after %gs", self.name, opts.timeout or self.wait_timeout)
    end
    if not progressed then
      local pause = next_due and (next_due - bocker.now()) or 0.02
      if pause > 0 then bocker.sleep(math.min(pause, 1)) end
    end
  end
end

-- down, ps, logs, exec, scale -------------------------------------------------------------------

--- p:down{volumes = bool, timeout = seconds}: removes the project's containers (found by label,
--- whatever the script declares now), its networks and state, and with volumes its volumes.
function Project:down(opts)
  opts = opts or {}
  local list = self:containers()
  self:stop_all(list, opts.timeout or self.stop_timeout)
  for _, c in ipairs(list) do
    local ok, err = pcall(c.remove, c, { force = true })
    if ok then self:say("Container %s  Removed", c.name)
    else io.stderr:write(("cannot remove %s: %s\n"):format(c.name, message_of(err))) end
  end
  local made = self:made()
  local nets = {}
  for _, name in ipairs(self.network_order) do nets[self.networks[name].real] = true end
  for name in pairs(made.network) do nets[name] = true end
  for _, name in ipairs(sorted_keys(nets)) do
    if pcall(bocker.network.get, name) then
      local ok, err = pcall(bocker.network.remove, name)
      if ok then self:say("Network %s  Removed", name)
      else io.stderr:write(("cannot remove network %s: %s\n"):format(name, message_of(err))) end
    end
    os.remove(self:state_dir() .. "/hosts." .. name)
  end
  local failed = false
  if opts.volumes then
    local vols = {}
    for _, name in ipairs(self.volume_order) do
      local v = self.volumes[name]
      if not v.external then vols[v.real] = true end
    end
    for name in pairs(made.volume) do vols[name] = true end
    for _, name in ipairs(sorted_keys(vols)) do
      if pcall(bocker.volume.get, name) then
        local ok, err = pcall(bocker.volume.remove, name)
        if ok then self:say("Volume %s  Removed", name)
        else failed = true io.stderr:write(("cannot remove volume %s: %s\n"):format(name, message_of(err))) end
      end
    end
  end
  if not failed then
    os.remove(resources_path(self))
    os.remove(self:state_dir())
    os.remove(bocker.root() .. "/projects")   -- only when empty
  end
end

local function service_label(c)
  return ("%s-%s"):format(c.labels[LABEL_SERVICE] or "?", c.labels[LABEL_NUMBER] or "?")
end

function Project:ps(opts)
  opts = opts or {}
  local list = self:containers(opts.service)
  if opts.quiet then
    for _, c in ipairs(list) do print(c.id) end
    return
  end
  if opts.json then
    for _, c in ipairs(list) do
      print(bocker.json {
        ID = c.id, Name = c.name, Service = c.labels[LABEL_SERVICE], Number = tonumber(c.labels[LABEL_NUMBER]),
        State = c.status, ExitCode = c.exit_code, Status = cli.status(c), Ports = c.ports,
        IP = c.network and c.network.ip or nil,
      })
    end
    return
  end
  local rows = {}
  for _, c in ipairs(list) do
    rows[#rows + 1] = { c.name, c.labels[LABEL_SERVICE] or "", c.id, cli.status(c), table.concat(c.ports, ", ") }
  end
  cli.table({ "NAME", "SERVICE", "CONTAINER ID", "STATUS", "PORTS" }, rows)
end

--- p:logs{services = {...}?, follow = bool}: the containers' logs merged in time order, each
--- line prefixed "SERVICE-N | ".
function Project:logs(opts)
  opts = opts or {}
  local only = {}
  for _, s in ipairs(opts.services or {}) do only[s] = true end
  local list = {}
  for _, c in ipairs(self:containers()) do
    if not next(only) or only[c.labels[LABEL_SERVICE]] then list[#list + 1] = c end
  end
  local width = 0
  for _, c in ipairs(list) do width = math.max(width, #service_label(c)) end
  local partial = {}
  local function emit(batch)
    table.sort(batch, function(a, b)
      if a.e.time ~= b.e.time then return a.e.time < b.e.time end
      if a.k ~= b.k then return a.k < b.k end
      return a.i < b.i
    end)
    for _, x in ipairs(batch) do
      local prefix = service_label(x.c)
      prefix = prefix .. string.rep(" ", width - #prefix) .. " | "
      local text = (partial[x.k] or "") .. x.e.text
      partial[x.k] = nil
      for line, nl in text:gmatch("([^\n]*)(\n?)") do
        if nl == "" then
          if line ~= "" then partial[x.k] = line end
          break
        end
        local out = x.e.stream == "stderr" and io.stderr or io.stdout
        out:write(prefix, line, "\n")
      end
    end
    io.stdout:flush()
  end
  local offsets, batch = {}, {}
  for k, c in ipairs(list) do
    local entries, nxt = c:logs { offset = 0 }
    offsets[k] = nxt
    for i, e in ipairs(entries) do batch[#batch + 1] = { c = c, k = k, i = i, e = e } end
  end
  emit(batch)
  if not opts.follow then
    for k, c in ipairs(list) do
      if partial[k] then io.stdout:write(service_label(c), " | ", partial[k], "\n") end
    end
    return
  end
  while true do
    local any_running, got = false, {}
    for k, c in ipairs(list) do
      local entries, nxt, running = c:logs { offset = offsets[k], wait = #list == 1 }
      offsets[k] = nxt
      any_running = any_running or running
      for i, e in ipairs(entries) do got[#got + 1] = { c = c, k = k, i = i, e = e } end
    end
    emit(got)
    if not any_running and #got == 0 then break end
    if #got == 0 and #list > 1 then bocker.sleep(0.1) end
  end
end

--- p:exec(service, cmd [, opts]): c:exec in replica opts.index (default 1) of the service.
--- cmd is a list, or one string run with /bin/sh -c. Returns what c:exec returns.
function Project:exec(service, cmd, opts)
  opts = opts or {}
  local index = opts.index or 1
  local c = self:container(service, index)
  if not c then
    error(bocker.error("not_found", ("service '%s' has no container %d in project '%s' (is it up?)"):format(service, index, self.name)), 2)
  end
  if type(cmd) == "string" then cmd = { "/bin/sh", "-c", cmd } end
  local o = {}
  for k, v in pairs(opts) do if k ~= "index" then o[k] = v end end
  return c:exec(cmd, o)
end

-- config and export -----------------------------------------------------------------------------

local function jsonable(v)
  if type(v) == "function" then return "<function>" end
  if type(v) ~= "table" then return v end
  local out = {}
  for k, x in pairs(v) do out[k] = jsonable(x) end
  return out
end

--- The resolved project as a table (what `config` prints).
function Project:config()
  self:plan { images = false }
  for _, s in ipairs(self.order) do
    if s.kind == "service" and type(s.def.image) == "string" then
      local ok, img = pcall(bocker.image.get, s.def.image)
      if ok then s.image_id = img.id end
    end
  end
  local out = { name = self.name, services = {}, tasks = {}, volumes = {}, networks = {} }
  for _, name in ipairs(self.volume_order) do
    local v = self.volumes[name]
    out.volumes[name] = { name = v.real, external = v.external }
  end
  for _, name in ipairs(self.network_order) do
    local n = self.networks[name]
    out.networks[name] = { name = n.real, subnet = n.subnet }
  end
  for _, n in ipairs(self.order) do
    local deps = {}
    for _, d in ipairs(n.deps) do deps[d.name] = { condition = d.condition, timeout = d.timeout or self.wait_timeout } end
    if n.kind == "task" then
      out.tasks[n.name] = { depends_on = deps }
    else
      local containers = {}
      for i, spec in ipairs(n.specs) do
        local c = copy(spec)
        c.image = n.image_id or n.def.image
        c.config_hash = fnv1a64(bocker.json(self:resolve(n, i, n.image_id or n.def.image)))
        containers[i] = c
      end
      out.services[n.name] = {
        image = n.def.image, image_id = n.image_id, replicas = #n.specs, job = n.job,
        depends_on = deps, healthcheck = jsonable(n.healthcheck), containers = containers,
      }
    end
  end
  return out
end

-- YAML: scalars as JSON strings/numbers (JSON is YAML), nesting by indentation.
local function yaml_scalar(v)
  if type(v) == "string" then return bocker.json(v) end
  return tostring(v)
end

local function yaml(v, indent, out)
  indent = indent or ""
  out = out or {}
  if type(v) ~= "table" then out[#out + 1] = indent .. yaml_scalar(v) return out end
  local is_list = #v > 0 or next(v) == nil
  if is_list then
    if next(v) == nil then out[#out] = out[#out] .. " []" return out end
    for _, x in ipairs(v) do
      if type(x) == "table" and next(x) ~= nil and #x == 0 then
        local sub = yaml(x, indent .. "  ", {})
        sub[1] = indent .. "- " .. sub[1]:sub(#indent + 3)
        for _, l in ipairs(sub) do out[#out + 1] = l end
      elseif type(x) == "table" then
        out[#out + 1] = indent .. "-"
        yaml(x, indent .. "  ", out)
      else
        out[#out + 1] = indent .. "- " .. yaml_scalar(x)
      end
    end
    return out
  end
  local keys = v.__order or sorted_keys(v)
  for _, k in ipairs(keys) do
    local x = v[k]
    if k ~= "__order" and x ~= nil then
      if type(x) == "table" then
        if next(x) == nil then out[#out + 1] = indent .. k .. ": {}"
        else
          out[#out + 1] = indent .. k .. ":"
          yaml(x, indent .. "  ", out)
        end
      else
        out[#out + 1] = indent .. k .. ": " .. yaml_scalar(x)
      end
    end
  end
  return out
end

local function ordered(t, order)
  t.__order = order
  return t
end

local function kube_name(s)
  return (s:lower():gsub("[^a-z0-9-]", "-"))
end

--- Kubernetes objects for the project: a Deployment (a Job for jobs) and a Service (when it
--- publishes ports) per service, a PersistentVolumeClaim per named volume. Returns YAML text.
function Project:kube()
  self:plan { images = false }
  local docs = {}
  local function doc(t) docs[#docs + 1] = table.concat(yaml(t), "\n") end
  for _, name in ipairs(self.volume_order) do
    local v = self.volumes[name]
    doc(ordered({
      apiVersion = "v1", kind = "PersistentVolumeClaim",
      metadata = { name = kube_name(v.real), labels = { ["bocker.project"] = self.name } },
      spec = { accessModes = { "ReadWriteOnce" }, resources = { requests = { storage = "1Gi" } } },
    }, { "apiVersion", "kind", "metadata", "spec" }))
  end
  for _, s in ipairs(self.order) do
    if s.kind == "service" and #s.specs > 0 then
      -- Replicas with identical settings share one Deployment; computed ones get one each.
      local groups = {}
      local first = s.specs[1]
      local function same(a, b)
        local x, y = copy(a), copy(b)
        x.name, y.name = nil, nil
        return bocker.json(x) == bocker.json(y)
      end
      local uniform = true
      for i = 2, #s.specs do if not same(first, s.specs[i]) then uniform = false end end
      if uniform then groups[1] = { name = s.name, spec = first, count = #s.specs }
      else for i, spec in ipairs(s.specs) do groups[i] = { name = s.name .. "-" .. i, spec = spec, count = 1 } end end
      for _, g in ipairs(groups) do
        local spec = g.spec
        local labels = { app = kube_name(g.name), ["bocker.project"] = self.name, ["bocker.service"] = s.name }
        for k, v in pairs(spec.labels or {}) do labels[k] = v end
        local container = { __order = { "name", "image", "command", "args", "workingDir", "env", "ports", "volumeMounts", "resources", "readinessProbe" } }
        container.name = kube_name(s.name)
        container.image = s.def.kube_image or s.def.image or "IMAGE"
        if spec.entrypoint then container.command = spec.entrypoint end
        if spec.cmd then
          if spec.shell then
            if spec.entrypoint then container.args = { "/bin/sh", "-c", spec.cmd[1] }
            else container.command = { "/bin/sh", "-c", spec.cmd[1] } end
          else container.args = spec.cmd end
        end
        container.workingDir = spec.workdir
        if spec.env then
          container.env = {}
          for _, kv in ipairs(spec.env) do
            local k, v = kv:match("^([^=]+)=(.*)$")
            container.env[#container.env + 1] = ordered({ name = k, value = v }, { "name", "value" })
          end
        end
        local ports = {}
        for _, p in ipairs(spec.ports or {}) do
          local cport, proto = p:match(":(%d+)/?(%a*)$")
          if cport then
            ports[#ports + 1] = ordered({ containerPort = tonumber(cport), protocol = (proto ~= "" and proto or "tcp"):upper() },
              { "containerPort", "protocol" })
          end
        end
        if #ports > 0 then container.ports = ports end
        local volumes, mounts = {}, {}
        for k, vol in ipairs(spec.volumes or {}) do
          local src, dst, mode = vol:match("^([^:]+):([^:]+):?(.*)$")
          if dst ~= "/etc/hosts" then
            local vname = "vol-" .. k
            if src:sub(1, 1) == "/" then
              volumes[#volumes + 1] = { name = vname, hostPath = { path = src } }
            else
              volumes[#volumes + 1] = { name = vname, persistentVolumeClaim = { claimName = kube_name(src) } }
            end
            mounts[#mounts + 1] = ordered({ name = vname, mountPath = dst, readOnly = mode == "ro" or nil },
              { "name", "mountPath", "readOnly" })
          end
        end
        if #mounts > 0 then container.volumeMounts = mounts end
        if spec.memory or spec.cpu_shares then
          container.resources = { limits = { memory = spec.memory and tostring(spec.memory) or nil },
                                  requests = { cpu = spec.cpu_shares and (math.floor(spec.cpu_shares * 1000 / 1024) .. "m") or nil } }
          if next(container.resources.limits) == nil then container.resources.limits = nil end
          if next(container.resources.requests) == nil then container.resources.requests = nil end
        end
        local hc = s.healthcheck
        if hc and type(hc.test) ~= "function" then
          local argv = health_argv { test = hc.test }
          container.readinessProbe = ordered({
            exec = { command = argv },
            periodSeconds = math.max(1, math.ceil(hc.interval or project.defaults.health.interval)),
            timeoutSeconds = hc.timeout and math.max(1, math.ceil(hc.timeout)) or nil,
            failureThreshold = hc.retries or project.defaults.health.retries,
            initialDelaySeconds = hc.start_period and math.ceil(hc.start_period) or nil,
          }, { "exec", "periodSeconds", "timeoutSeconds", "failureThreshold", "initialDelaySeconds" })
        end
        local pod = ordered({ containers = { container } }, { "restartPolicy", "containers", "volumes" })
        if #volumes > 0 then pod.volumes = volumes end
        local meta = { name = kube_name(g.name), labels = labels }
        if s.job then
          pod.restartPolicy = (spec.restart or ""):match("^on%-failure") and "OnFailure" or "Never"
          doc(ordered({ apiVersion = "batch/v1", kind = "Job", metadata = meta,
            spec = ordered({ backoffLimit = 0, template = ordered({ metadata = { labels = labels }, spec = pod }, { "metadata", "spec" }) },
              { "backoffLimit", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        else
          doc(ordered({ apiVersion = "apps/v1", kind = "Deployment", metadata = meta,
            spec = ordered({ replicas = g.count, selector = { matchLabels = { app = labels.app } },
              template = ordered({ metadata = { labels = labels }, spec = pod }, { "metadata", "spec" }) },
              { "replicas", "selector", "template" }) }, { "apiVersion", "kind", "metadata", "spec" }))
        end
        if #ports > 0 then
          local sp = {}
          for _, p in ipairs(ports) do
            sp[#sp + 1] = ordered({ name = ("%s-%d"):format(p.protocol:lower(), p.containerPort), port = p.containerPort,
              targetPort = p.containerPort, protocol = p.protocol }, { "name", "port", "targetPort", "protocol" })
          end
          doc(ordered({ apiVersion = "v1", kind = "Service", metadata = { name = kube_name(g.name), labels = { ["bocker.project"] = self.name } },
            spec = ordered({ selector = { app = labels.app }, ports = sp }, { "selector", "ports" }) },
            { "apiVersion", "kind", "metadata", "spec" }))
        end
      end
    end
  end
  return "# Generated by bocker.project from " .. self.script .. " (project " .. self.name .. ").\n"
    .. "# Service names resolve through the Services below; depends_on and tasks have no Kubernetes form.\n"
    .. table.concat(docs, "\n---\n") .. "\n"
end

-- The command line --------------------------------------------------------------------------------

local USAGE = [[
usage: bocker script %s COMMAND [OPTIONS]

Commands:
  up [SERVICE...]          create and start what is missing or changed, wait for conditions
      --remove-orphans     remove containers of services that are no longer declared
      --force-recreate     recreate every container even if its config is unchanged
      --no-recreate        keep existing containers even if their config changed
      --no-wait            return once everything is started (do not wait for health/jobs)
  down                     remove the project's containers, networks and state
      -v, --volumes        remove its named volumes too
      -t, --timeout N      seconds between SIGTERM and SIGKILL (default %d)
  ps [SERVICE]             list the project's containers (-q: ids; --format json)
  logs [-f] [SERVICE...]   the containers' output, each line prefixed SERVICE-N |
  exec [--index N] SERVICE CMD...   run a command in a service's container
  scale SERVICE N          set a service's number of containers (until the next up)
  config                   print the resolved project as JSON
  export kube              print Kubernetes YAML (Deployments, Jobs, Services, PVCs)]]

function Project:usage()
  return USAGE:format(self.script, self.stop_timeout)
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
    })
    self:up { services = rest, remove_orphans = o.remove_orphans, force_recreate = o.force_recreate,
              no_recreate = o.no_recreate, wait = not o.no_wait }
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
  elseif cmd == "config" then
    print(bocker.json(self:config(), 2))
    return 0
  elseif cmd == "export" then
    if list[1] ~= "kube" then cli.fail("usage: export kube") end
    io.write(self:kube())
    return 0
  end
  cli.fail(("unknown command '%s'\n%s"):format(cmd, self:usage()))
end

return project
