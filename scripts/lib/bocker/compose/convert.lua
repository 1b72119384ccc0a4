-- bocker.compose.convert: a loaded compose model → a bocker.project: the top level (name,
-- profiles, volumes, networks, configs, secrets) here, each service in bocker.compose.service.
-- Anything outside the supported subset fails naming its path ("services.web.develop: not
-- supported"), so that nothing in a file is silently ignored.
local project = require "bocker.project"
local K = require "bocker.compose.check"
local service = require "bocker.compose.service"
local C = {}

local fail, key_path, only = K.fail, K.key_path, K.only
local want_string, want_bool, want_list, want_map = K.want_string, K.want_bool, K.want_list, K.want_map
C.shell_split = K.shell_split

--- The compose project name: -p, $COMPOSE_PROJECT_NAME, the file's `name`, or the folder's.
function C.project_name(model, info, explicit)
  local name = explicit or os.getenv("COMPOSE_PROJECT_NAME")
  if (name == nil or name == "") and model.name ~= nil then name = want_string(model.name, "name") end
  if name == nil or name == "" then
    name = (info.dir:match("([^/]+)/*$") or "project"):lower():gsub("[^a-z0-9_-]", ""):gsub("^[_-]+", "")
  end
  return name
end

--- Builds the project. opts: name (-p), profiles = {..}, targets = {service names given on
--- the command line: active whatever their profiles}. Returns the project and the list of
--- active service names.
function C.project(model, info, opts)
  opts = opts or {}
  only(model, { version = true, name = true, services = true, volumes = true, networks = true, configs = true, secrets = true }, "")
  local services = want_map(model.services or {}, "services")
  local profiles = {}
  for _, p in ipairs(opts.profiles or {}) do profiles[p] = true end
  local env_profiles = os.getenv("COMPOSE_PROFILES")
  if env_profiles and #(opts.profiles or {}) == 0 then
    for p in env_profiles:gmatch("[^,%s]+") do profiles[p] = true end
  end
  local targets = {}
  for _, t in ipairs(opts.targets or {}) do
    if not services[t] then fail("services", "no such service: %s", t) end
    targets[t] = true
  end

  local active, names = {}, {}
  for name, sv in pairs(services) do
    local sp = "services." .. name
    local on = true
    if type(sv) == "table" and sv.profiles ~= nil then
      on = false
      for i, p in ipairs(want_list(sv.profiles, sp .. ".profiles")) do
        if profiles[want_string(p, key_path(sp .. ".profiles", i))] or profiles["*"] then on = true end
      end
    end
    if on or targets[name] then active[name] = true; names[#names + 1] = name end
  end
  table.sort(names)

  local name = C.project_name(model, info, opts.name)
  local ok, p = pcall(project.new, { name = name, dir = info.dir })
  if not ok then fail("name", "%s", type(p) == "table" and p.message or tostring(p)) end
  p.script = info.files[1]

  local ctx = { dir = info.dir, get = info.get, volumes = {}, networks = { default = true }, configs = {}, secrets = {},
                active = active, model_services = services, mkdirs = {}, project_name = name }
  local vols = want_map(model.volumes or {}, "volumes")
  local vnames = {}
  for k in pairs(vols) do vnames[#vnames + 1] = k end
  table.sort(vnames)
  for _, vn in ipairs(vnames) do
    local vp = key_path("volumes", vn)
    local v = want_map(vols[vn], vp)
    only(v, { external = true, name = true, driver = true, labels = "not supported (bocker volumes have no labels)",
              driver_opts = "not supported" }, vp)
    if v.driver ~= nil and v.driver ~= "local" then fail(key_path(vp, "driver"), "only local is supported") end
    local ext = v.external ~= nil and want_bool(v.external, key_path(vp, "external"))
    if v.name ~= nil and not ext then fail(key_path(vp, "name"), "a custom name is supported for external volumes only") end
    p:volume(vn, { external = ext, name = v.name and want_string(v.name, key_path(vp, "name")) })
    ctx.volumes[vn] = true
  end
  local nets = want_map(model.networks or {}, "networks")
  local nnames = {}
  for k in pairs(nets) do nnames[#nnames + 1] = k end
  table.sort(nnames)
  for _, nn in ipairs(nnames) do
    local np = key_path("networks", nn)
    local n = want_map(nets[nn], np)
    only(n, { external = true, name = true, driver = true, ipam = true, internal = "not supported", attachable = true,
              labels = "not supported (bocker networks have no labels)", driver_opts = "not supported", enable_ipv6 = "not supported" }, np)
    if n.driver ~= nil and n.driver ~= "bridge" then fail(key_path(np, "driver"), "only bridge is supported") end
    local subnet
    if n.ipam ~= nil then
      local ip = key_path(np, "ipam")
      local ipam = want_map(n.ipam, ip)
      only(ipam, { config = true, driver = true }, ip)
      local cfg = want_list(ipam.config or {}, key_path(ip, "config"))
      if #cfg > 1 then fail(key_path(ip, "config"), "one subnet only") end
      if cfg[1] then
        only(want_map(cfg[1], key_path(ip, "config[0]")), { subnet = true }, key_path(ip, "config[0]"))
        subnet = cfg[1].subnet and want_string(cfg[1].subnet, key_path(ip, "config[0].subnet"))
      end
    end
    local ext = n.external ~= nil and want_bool(n.external, key_path(np, "external"))
    if n.name ~= nil and not ext then fail(key_path(np, "name"), "a custom name is supported for external networks only") end
    if ext and nn == "default" then fail(np, "an external default network is not supported") end
    p:network(nn, { subnet = subnet, external = ext, name = n.name and want_string(n.name, key_path(np, "name")) })
    ctx.networks[nn] = true
  end
  for _, kind in ipairs { "configs", "secrets" } do
    for k, v in pairs(want_map(model[kind] or {}, kind)) do
      local kp = key_path(kind, k)
      v = want_map(v, kp)
      only(v, { file = true, external = "not supported", environment = "not supported (use file)",
                content = "not supported (use file)", name = "not supported" }, kp)
      if v.file == nil then fail(kp, "needs file") end
      local f = want_string(v.file, key_path(kp, "file"))
      if f:sub(1, 1) ~= "/" then f = info.dir .. "/" .. f:gsub("^%./", "") end
      if not bocker.fs.exists(f) then fail(key_path(kp, "file"), "%s does not exist", f) end
      ctx[kind][k] = f
    end
  end

  for _, sn in ipairs(names) do
    local def, policy, build = service(sn, services[sn], ctx)
    p.pull_policy = p.pull_policy or {}
    p.pull_policy[sn] = policy
    p.compose_build = p.compose_build or {}
    p.compose_build[sn] = build
    local ok2, err = pcall(p.service, p, sn, def)
    if not ok2 then
      fail("services." .. sn, "%s", (type(err) == "table" and err.message or tostring(err)):gsub("^[^:]+:%d+: ", ""))
    end
  end
  -- Inactive services still have their keys checked, so that a typo is found before the
  -- profile is used.
  p.compose_mkdirs = ctx.mkdirs
  ctx.mkdirs = {}   -- (the inactive services' folders are not made)
  for sn, sv in pairs(services) do
    if not active[sn] then
      local saved = ctx.active
      ctx.active = setmetatable({}, { __index = function() return true end })
      service(sn, sv, ctx)
      ctx.active = saved
    end
  end
  return p, names
end

return C
