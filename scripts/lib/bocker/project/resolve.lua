-- bocker.project.resolve: from declarations to container specs. p:plan() checks the whole
-- project (dependencies, images, settings) and gives every service its replicas' create
-- options and config hashes; nothing is changed.
local cli = require "bocker.cli"
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project
local graph = require "bocker.project.graph"

-- Resolving: from declarations to container specs -----------------------------------------------

--- The project's state folder: $BOCKER_ROOT/projects/NAME (hosts files, the resources it made).
function Project:state_dir()
  return bocker.root() .. "/projects/" .. self.name
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
  if n:match("^container:.") then return { mode = "container", real = n } end
  local joined = n:match("^service:(.+)$")
  if joined then return { mode = "service", service = joined, real = self:joined_container(s, joined, "network") } end
  local net = self.networks[n]
  if not net then
    raise(s.where, "invalid_argument", "service '%s': network '%s' is not declared (add p:network \"%s\")", s.name, n, n)
  end
  return { mode = "project", net = net, real = net.real }
end

--- "container:NAME" for service `s` joining the namespaces of service `x` (its first replica,
--- as compose does); raises naming `what` when x is no service or has no replica.
function Project:joined_container(s, x, what)
  local t = self.services[x]
  if not t or x == s.name then
    raise(s.where, "invalid_argument", "service '%s': %s service:%s names no other service of the project", s.name, what, x)
  end
  local n = (self.replica_override and self.replica_override[x]) or t.replicas
  if n < 1 then
    raise(s.where, "invalid_argument", "service '%s': %s service:%s, but '%s' has no replicas", s.name, what, x, x)
  end
  return ("container:%s-%s-1"):format(self.name, x)
end

--- The project hosts file of a network; with `service`, that service's own copy (the network's
--- lines and its extra_hosts).
function Project:hosts_path(net, service)
  return self:state_dir() .. "/hosts." .. net.real .. (service and ("." .. service) or "")
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
    local own = s.def.extra_hosts and #s.def.extra_hosts > 0 and s.name or nil
    spec.volumes[#spec.volumes + 1] = self:hosts_path(net.net, own) .. ":/etc/hosts:ro"
  elseif s.def.extra_hosts and #s.def.extra_hosts > 0 then
    spec.extra_hosts = copy(s.def.extra_hosts)   -- bocker's own hosts file has them
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

  -- The runtime runs the healthcheck (a Lua function test is run by `up` itself instead).
  local hc = s.healthcheck
  if hc and type(hc.test) ~= "function" then
    local d = project.defaults.health
    spec.healthcheck = {
      test = type(hc.test) == "table" and copy(hc.test) or hc.test,
      interval = hc.interval or d.interval, timeout = hc.timeout or d.timeout,
      retries = hc.retries or d.retries, start_period = hc.start_period or d.start_period,
    }
  end

  -- Other create options (cap_add, read_only, …), passed as they are.
  local extra = v("create")
  if extra ~= nil then
    if type(extra) ~= "table" then raise(s.where, "invalid_argument", "service '%s': create must be a table", s.name) end
    for k, val in pairs(extra) do
      if project.create_owned[k] then raise(s.where, "invalid_argument", "service '%s': create.%s is set by the project", s.name, tostring(k)) end
      spec[k] = copy(val)
    end
    for _, k in ipairs { "ipc", "pid" } do
      local x = type(spec[k]) == "string" and spec[k]:match("^service:(.+)$")
      if x then spec[k] = self:joined_container(s, x, k) end
    end
  end

  local hash = fnv1a64(bocker.json(spec))
  return spec, hash
end

--- Resolves the whole project: checks dependencies, images and settings, and gives every
--- service its replica specs. Nothing is changed. Raises with the declaring line.
function Project:plan(opts)
  opts = opts or {}
  graph.check(self)

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
