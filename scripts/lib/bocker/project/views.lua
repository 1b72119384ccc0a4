-- bocker.project.views: what the project looks like: p:ps, p:logs, p:exec and p:config.
local cli = require "bocker.cli"
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project

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
        State = c.status, ExitCode = c.exit_code, Status = cli.docker_status(c), Ports = c.ports,
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

return Project
