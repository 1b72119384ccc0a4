-- bocker.compose.service: one compose service → the settings of p:service. Every key is
-- checked against the supported subset (docs/compose.md): anything else fails with its path.
local K = require "bocker.compose.check"
local NULL = K.NULL
local fail, key_path, is_map, is_list, only, argv, string_map = K.fail, K.key_path, K.is_map, K.is_list, K.only, K.argv, K.string_map
local want_string, want_bool, want_int, want_duration, want_list, want_map =
  K.want_string, K.want_bool, K.want_int, K.want_duration, K.want_list, K.want_map

-- Ports -----------------------------------------------------------------------------------------

local function port(v, path)
  if type(v) == "number" then v = tostring(math.tointeger(v) or v) end
  if type(v) == "string" then
    local body, proto = v:match("^(.-)/(%a+)$")
    body = body or v
    if proto and proto ~= "tcp" and proto ~= "udp" then fail(path, "unknown protocol '%s'", proto) end
    if body:find("-", 1, true) then fail(path, "port ranges are not supported ('%s')", v) end
    local parts = {}
    for p in body:gmatch("[^:]+") do parts[#parts + 1] = p end
    if body:match("^%[") then fail(path, "IPv6 host addresses are not supported ('%s')", v) end
    if #parts == 1 then
      fail(path, "'%s' publishes on a random host port, which bocker does not support: give HOST:CONTAINER", v)
    end
    if #parts == 3 and parts[2] == "" then fail(path, "'%s': give the host port", v) end
    for _, p in ipairs { parts[#parts], parts[#parts - 1] } do
      if not p:match("^%d+$") then fail(path, "bad port '%s' (use [IP:]HOST:CONTAINER[/PROTO])", v) end
    end
    return { body .. (proto and proto ~= "tcp" and ("/" .. proto) or "") }
  end
  local m = want_map(v, path)
  only(m, { target = true, published = true, host_ip = true, protocol = true, mode = true, name = true, app_protocol = true }, path)
  if m.target == nil then fail(path, "needs target") end
  local target = want_string(m.target, key_path(path, "target"))
  if m.published == nil then fail(key_path(path, "published"), "needed: bocker does not publish on random host ports") end
  local published = want_string(m.published, key_path(path, "published"))
  if published:find("-", 1, true) then fail(key_path(path, "published"), "port ranges are not supported") end
  if m.mode ~= nil and m.mode ~= "host" and m.mode ~= "ingress" then fail(key_path(path, "mode"), "must be host or ingress") end
  local proto = m.protocol and want_string(m.protocol, key_path(path, "protocol")) or "tcp"
  if proto ~= "tcp" and proto ~= "udp" then fail(key_path(path, "protocol"), "must be tcp or udp") end
  local s = published .. ":" .. target
  if m.host_ip then s = want_string(m.host_ip, key_path(path, "host_ip")) .. ":" .. s end
  if proto == "udp" then s = s .. "/udp" end
  return { s }
end

-- Volumes ---------------------------------------------------------------------------------------

local function volume(v, path, ctx, def)
  local vtype, source, target, ro
  local create_host_path = type(v) == "string"   -- compose makes a missing folder for the short syntax
  if type(v) == "string" then
    local parts = {}
    for p in v:gmatch("[^:]+") do parts[#parts + 1] = p end
    if #parts == 1 then fail(path, "anonymous volumes ('%s') are not supported: name it (NAME:%s) and declare it", v, v) end
    if #parts > 3 then fail(path, "bad volume '%s' (use SOURCE:TARGET[:ro])", v) end
    source, target = parts[1], parts[2]
    local mode = parts[3]
    if mode then
      for m in mode:gmatch("[^,]+") do
        if m == "ro" then ro = true elseif m == "rw" then ro = false
        elseif m ~= "z" and m ~= "Z" then fail(path, "volume mode '%s' is not supported (use ro or rw)", m) end
      end
    end
    local first = source:sub(1, 1)
    vtype = (first == "/" or first == "." or first == "~") and "bind" or "volume"
  else
    local m = want_map(v, path)
    only(m, { type = true, source = true, target = true, read_only = true, volume = true, bind = true, tmpfs = true,
              consistency = "not supported" }, path)
    vtype = m.type and want_string(m.type, key_path(path, "type")) or "volume"
    target = m.target and want_string(m.target, key_path(path, "target"))
    source = m.source and want_string(m.source, key_path(path, "source"))
    ro = m.read_only ~= nil and want_bool(m.read_only, key_path(path, "read_only")) or false
    if m.volume ~= nil then only(want_map(m.volume, key_path(path, "volume")), { nocopy = true }, key_path(path, "volume")) end
    if m.bind ~= nil then
      local bp = key_path(path, "bind")
      local b = want_map(m.bind, bp)
      only(b, { create_host_path = true, propagation = "not supported", selinux = "not supported" }, bp)
      if b.create_host_path ~= nil then create_host_path = want_bool(b.create_host_path, key_path(bp, "create_host_path")) end
    end
    if m.tmpfs ~= nil then only(want_map(m.tmpfs, key_path(path, "tmpfs")), { size = "not supported", mode = "not supported" }, key_path(path, "tmpfs")) end
  end
  if not target or target:sub(1, 1) ~= "/" then fail(path, "needs an absolute target path") end
  if vtype == "tmpfs" then
    def.tmpfs = def.tmpfs or {}
    def.tmpfs[#def.tmpfs + 1] = target
    return
  end
  if not source then fail(path, "needs a source") end
  local suffix = ro and ":ro" or ""
  def.volumes = def.volumes or {}
  if vtype == "bind" then
    if source:sub(1, 1) == "~" then source = (os.getenv("HOME") or "") .. source:sub(2) end
    if source:sub(1, 1) ~= "/" then source = ctx.dir .. "/" .. source:gsub("^%./", "") end
    def.volumes[#def.volumes + 1] = source .. ":" .. target .. suffix
    if create_host_path then ctx.mkdirs[#ctx.mkdirs + 1] = source end
  elseif vtype == "volume" then
    if not ctx.volumes[source] then fail(path, "volume '%s' is not declared in the top-level volumes", source) end
    def.volumes[#def.volumes + 1] = source .. ":" .. target .. suffix
  else
    fail(key_path(path, "type"), "'%s' is not supported (use volume, bind or tmpfs)", vtype)
  end
end

-- configs and secrets: files from the top level, mounted read-only.
local function file_mount(v, path, kind, ctx, def)
  local source, target
  if type(v) == "string" then source = v
  else
    local m = want_map(v, path)
    only(m, { source = true, target = true, uid = "not supported", gid = "not supported", mode = "not supported" }, path)
    source = m.source and want_string(m.source, key_path(path, "source"))
    target = m.target and want_string(m.target, key_path(path, "target"))
  end
  local decl = ctx[kind][source or ""]
  if not decl then fail(path, "%s '%s' is not declared in the top-level %s", kind:sub(1, -2), tostring(source), kind) end
  if not target then target = kind == "secrets" and ("/run/secrets/" .. source) or ("/" .. source)
  elseif target:sub(1, 1) ~= "/" then target = (kind == "secrets" and "/run/secrets/" or "/") .. target end
  def.volumes = def.volumes or {}
  def.volumes[#def.volumes + 1] = decl .. ":" .. target .. ":ro"
end

-- Healthchecks ----------------------------------------------------------------------------------

local function healthcheck(v, path)
  local m = want_map(v, path)
  only(m, { test = true, interval = true, timeout = true, retries = true, start_period = true, disable = true,
            start_interval = "not supported" }, path)
  if m.disable ~= nil and want_bool(m.disable, key_path(path, "disable")) then return nil end
  if m.test == nil then fail(path, "needs test") end
  local hc = {}
  if type(m.test) == "string" then hc.test = { "CMD-SHELL", m.test }
  else
    local t = want_list(m.test, key_path(path, "test"))
    if t[1] == "NONE" then return nil end
    if t[1] ~= "CMD" and t[1] ~= "CMD-SHELL" then fail(key_path(path, "test"), "must start with CMD, CMD-SHELL or NONE") end
    hc.test = {}
    for i, x in ipairs(t) do hc.test[i] = want_string(x, key_path(key_path(path, "test"), i)) end
    if hc.test[1] == "CMD-SHELL" then hc.test = { "CMD-SHELL", table.concat(hc.test, " ", 2) } end
  end
  if m.interval ~= nil then hc.interval = want_duration(m.interval, key_path(path, "interval")) end
  if m.timeout ~= nil then hc.timeout = want_duration(m.timeout, key_path(path, "timeout")) end
  if m.start_period ~= nil then hc.start_period = want_duration(m.start_period, key_path(path, "start_period")) end
  if m.retries ~= nil then hc.retries = want_int(m.retries, key_path(path, "retries"), 1) end
  return hc
end

-- Services --------------------------------------------------------------------------------------

--- build: (a context folder, or {context, dockerfile, args, target, network, no_cache, pull}):
--- what `bocker build` needs, with absolute paths.
local function build_section(v, path, ctx)
  local b = {}
  if type(v) == "string" then b.context = v
  else
    local m = want_map(v, path)
    only(m, { context = true, dockerfile = true, args = true, target = true, network = true, no_cache = true, pull = true,
              dockerfile_inline = "not supported (use dockerfile)", ssh = "not supported", secrets = "not supported",
              cache_from = "not supported", cache_to = "not supported", labels = "not supported", platforms = "not supported",
              tags = "not supported (use image)", extra_hosts = "not supported", shm_size = "not supported",
              isolation = "not supported", privileged = "not supported", additional_contexts = "not supported" }, path)
    b.context = m.context ~= nil and want_string(m.context, key_path(path, "context")) or "."
    if m.dockerfile ~= nil then b.dockerfile = want_string(m.dockerfile, key_path(path, "dockerfile")) end
    if m.args ~= nil then b.args = string_map(m.args, key_path(path, "args"), ctx.get) end
    if m.target ~= nil then b.target = want_string(m.target, key_path(path, "target")) end
    if m.network ~= nil then
      b.network = want_string(m.network, key_path(path, "network"))
      if b.network ~= "bridge" and b.network ~= "host" and b.network ~= "none" and b.network ~= "default" then
        fail(key_path(path, "network"), "'%s' is not supported (use bridge, host or none)", b.network)
      end
    end
    if m.no_cache ~= nil then b.no_cache = want_bool(m.no_cache, key_path(path, "no_cache")) end
    if m.pull ~= nil then b.pull = want_bool(m.pull, key_path(path, "pull")) end
  end
  if b.context:match("^%a+://") or b.context:match("^git@") then fail(key_path(path, "context"), "a remote context is not supported") end
  if b.context:sub(1, 1) ~= "/" then b.context = ctx.dir .. "/" .. b.context:gsub("^%./", "") end
  b.context = b.context:gsub("/%.?$", "")
  if b.dockerfile and b.dockerfile:sub(1, 1) ~= "/" then b.dockerfile = b.context .. "/" .. b.dockerfile end
  return b
end

local function want_cpus(v, path)
  local n = tonumber(v)
  if not n or n <= 0 then fail(path, "must be a number of CPUs such as 0.5") end
  return n
end
local SERVICE_KEYS = {
  image = true, build = true, command = true, entrypoint = true, environment = true, env_file = true,
  ports = true, expose = true, volumes = true, depends_on = true, healthcheck = true, restart = true,
  networks = true, network_mode = true, hostname = true, user = true, working_dir = true, labels = true,
  stop_signal = true, stop_grace_period = true, init = true, tty = true, stdin_open = true,
  cap_add = true, cap_drop = true, read_only = true, tmpfs = true, mem_limit = true, pids_limit = true,
  cpu_shares = true, profiles = true, deploy = true, pull_policy = true, configs = true, secrets = true, privileged = true,
  extra_hosts = true, dns = true, dns_search = true, dns_opt = true, cpus = true, ulimits = true, shm_size = true,
  sysctls = true, ipc = true, pid = true,
  container_name = "not supported (bocker names containers PROJECT-SERVICE-N)",
  logging = true, security_opt = true, devices = true,
}

local function service(name, sv, ctx)
  local path = "services." .. name
  sv = want_map(sv, path)
  only(sv, SERVICE_KEYS, path)
  local def = {}
  local create = {}
  local get = ctx.get

  local build
  if sv.build ~= nil then
    build = build_section(sv.build, key_path(path, "build"), ctx)
    -- The image it makes: `image:` when given, else PROJECT-SERVICE (as compose names it).
    build.tag = sv.image ~= nil and want_string(sv.image, key_path(path, "image")) or (ctx.project_name .. "-" .. name):lower()
    def.image = build.tag
  else
    if sv.image == nil then fail(path, "needs image (or build)") end
    def.image = want_string(sv.image, key_path(path, "image"))
  end
  def.command = sv.command ~= nil and argv(sv.command, key_path(path, "command")) or nil
  def.entrypoint = sv.entrypoint ~= nil and argv(sv.entrypoint, key_path(path, "entrypoint")) or nil

  if sv.env_file ~= nil then
    local files = {}
    for i, f in ipairs(want_list(sv.env_file, key_path(path, "env_file"))) do
      local p = key_path(key_path(path, "env_file"), i)
      if type(f) == "table" then
        only(f, { path = true, required = true, format = "not supported" }, p)
        files[#files + 1] = { path = want_string(f.path, key_path(p, "path")),
                              required = f.required == nil or want_bool(f.required, key_path(p, "required")) }
      else
        files[#files + 1] = { path = want_string(f, p), required = true }
      end
    end
    def.env_file = files
  end
  if sv.environment ~= nil then def.env = string_map(sv.environment, key_path(path, "environment"), get) end

  if sv.ports ~= nil then
    def.ports = {}
    for i, p in ipairs(want_list(sv.ports, key_path(path, "ports"))) do
      for _, s in ipairs(port(p, key_path(key_path(path, "ports"), i))) do def.ports[#def.ports + 1] = s end
    end
  end
  if sv.expose ~= nil then
    def.expose = {}
    for i, e in ipairs(want_list(sv.expose, key_path(path, "expose"))) do
      local p = key_path(key_path(path, "expose"), i)
      local s = want_string(e, p)
      if not s:match("^%d+$") and not s:match("^%d+/tcp$") and not s:match("^%d+/udp$") then
        fail(p, "'%s': use PORT or PORT/PROTO (ranges are not supported)", s)
      end
      def.expose[#def.expose + 1] = s
    end
  end
  if sv.volumes ~= nil then
    for i, v in ipairs(want_list(sv.volumes, key_path(path, "volumes"))) do volume(v, key_path(key_path(path, "volumes"), i), ctx, def) end
  end
  for _, kind in ipairs { "configs", "secrets" } do
    if sv[kind] ~= nil then
      for i, v in ipairs(want_list(sv[kind], key_path(path, kind))) do file_mount(v, key_path(key_path(path, kind), i), kind, ctx, def) end
    end
  end
  if sv.tmpfs ~= nil then
    def.tmpfs = def.tmpfs or {}
    for i, t in ipairs(want_list(sv.tmpfs, key_path(path, "tmpfs"))) do
      local s = want_string(t, key_path(key_path(path, "tmpfs"), i))
      if s:find(":", 1, true) then fail(key_path(key_path(path, "tmpfs"), i), "tmpfs options are not supported ('%s')", s) end
      def.tmpfs[#def.tmpfs + 1] = s
    end
  end

  if sv.depends_on ~= nil then
    local deps = {}
    local d = sv.depends_on
    if is_list(d) and next(d) ~= nil then
      for i, n in ipairs(d) do deps[want_string(n, key_path(key_path(path, "depends_on"), i))] = "started" end
    else
      for dep, x in pairs(want_map(d, key_path(path, "depends_on"))) do
        local p = key_path(key_path(path, "depends_on"), dep)
        x = want_map(x, p)
        only(x, { condition = true, restart = true, required = true }, p)
        local cond = x.condition ~= nil and want_string(x.condition, key_path(p, "condition")) or "service_started"
        if cond ~= "service_started" and cond ~= "service_healthy" and cond ~= "service_completed_successfully" then
          fail(key_path(p, "condition"), "must be service_started, service_healthy or service_completed_successfully")
        end
        if x.required ~= nil and not want_bool(x.required, key_path(p, "required")) and not ctx.active[dep] then
          cond = nil   -- an optional dependency on a service that is not active
        end
        deps[dep] = cond
      end
    end
    for dep in pairs(deps) do
      if not ctx.model_services[dep] then fail(key_path(path, "depends_on"), "service '%s' is not defined", dep) end
      if not ctx.active[dep] then
        fail(key_path(path, "depends_on"), "service '%s' is not active (enable its profile with --profile)", dep)
      end
    end
    def.depends_on = deps
  end

  if sv.healthcheck ~= nil then def.healthcheck = healthcheck(sv.healthcheck, key_path(path, "healthcheck")) end
  if sv.restart ~= nil then
    local r = want_string(sv.restart, key_path(path, "restart"))
    if not (r == "no" or r == "always" or r == "unless-stopped" or r:match("^on%-failure") ) then
      fail(key_path(path, "restart"), "must be no, always, on-failure[:N] or unless-stopped")
    end
    def.restart = r
  end

  -- Networks: one per container.
  if sv.network_mode ~= nil then
    local m = want_string(sv.network_mode, key_path(path, "network_mode"))
    if m ~= "host" and m ~= "none" and m ~= "bridge" and not m:match("^service:.") and not m:match("^container:.") then
      fail(key_path(path, "network_mode"), "'%s' is not supported (use host, none, bridge, service:NAME or container:NAME)", m)
    end
    if sv.networks ~= nil then fail(key_path(path, "networks"), "cannot be used with network_mode") end
    def.network = m
  end
  if sv.networks ~= nil then
    local n = sv.networks
    local names, opts = {}, {}
    if is_list(n) and next(n) ~= nil then
      for i, x in ipairs(n) do names[#names + 1] = want_string(x, key_path(key_path(path, "networks"), i)) end
    else
      for k, x in pairs(want_map(n, key_path(path, "networks"))) do names[#names + 1] = k; opts[k] = x end
    end
    if #names > 1 then
      table.sort(names)
      fail(key_path(path, "networks"), "a bocker container joins one network (got %s)", table.concat(names, ", "))
    end
    if #names == 1 then
      local net = names[1]
      if not ctx.networks[net] then fail(key_path(path, "networks"), "network '%s' is not declared in the top-level networks", net) end
      def.network = net
      local o = opts[net]
      if o ~= nil and o ~= NULL then
        local p = key_path(key_path(path, "networks"), net)
        o = want_map(o, p)
        only(o, { aliases = true }, p)
        if o.aliases ~= nil then
          def.aliases = {}
          for i, a in ipairs(want_list(o.aliases, key_path(p, "aliases"))) do def.aliases[i] = want_string(a, key_path(key_path(p, "aliases"), i)) end
        end
      end
    end
  end

  if sv.hostname ~= nil then def.hostname = want_string(sv.hostname, key_path(path, "hostname")) end
  if sv.user ~= nil then def.user = want_string(sv.user, key_path(path, "user")) end
  if sv.working_dir ~= nil then def.workdir = want_string(sv.working_dir, key_path(path, "working_dir")) end
  if sv.labels ~= nil then def.labels = string_map(sv.labels, key_path(path, "labels")) end
  if sv.stop_signal ~= nil then create.stop_signal = want_string(sv.stop_signal, key_path(path, "stop_signal")) end
  if sv.extra_hosts ~= nil then
    local ep = key_path(path, "extra_hosts")
    local hosts = {}
    if is_map(sv.extra_hosts) and next(sv.extra_hosts) ~= nil then
      for h, ip in pairs(sv.extra_hosts) do
        local list = type(ip) == "table" and ip or { ip }
        for _, x in ipairs(list) do hosts[#hosts + 1] = h .. ":" .. want_string(x, key_path(ep, h)) end
      end
      table.sort(hosts)
    else
      for i, h in ipairs(want_list(sv.extra_hosts, ep)) do
        local s = want_string(h, key_path(ep, i))
        if not s:match("^[%w_.-]+[:=].+$") then fail(key_path(ep, i), "'%s': use HOST:IP (or HOST=IP, HOST:host-gateway)", s) end
        hosts[#hosts + 1] = s
      end
    end
    def.extra_hosts = hosts
  end
  for key, opt in pairs { dns = "dns", dns_search = "dns_search", dns_opt = "dns_options" } do
    if sv[key] ~= nil then
      create[opt] = {}
      for i, x in ipairs(want_list(sv[key], key_path(path, key))) do create[opt][i] = want_string(x, key_path(key_path(path, key), i)) end
    end
  end
  if sv.cpus ~= nil then create.cpus = want_cpus(sv.cpus, key_path(path, "cpus")) end
  if sv.ulimits ~= nil then
    local up = key_path(path, "ulimits")
    local names = {}
    for k in pairs(want_map(sv.ulimits, up)) do names[#names + 1] = k end
    table.sort(names)
    create.ulimits = {}
    for _, k in ipairs(names) do
      local v, kp = sv.ulimits[k], key_path(up, k)
      if type(v) == "table" then
        only(v, { soft = true, hard = true }, kp)
        local soft, hard = want_int(v.soft, key_path(kp, "soft"), -1), want_int(v.hard, key_path(kp, "hard"), -1)
        create.ulimits[#create.ulimits + 1] = ("%s=%d:%d"):format(k, soft, hard)
      else
        create.ulimits[#create.ulimits + 1] = ("%s=%d"):format(k, want_int(v, kp, -1))
      end
    end
  end
  if sv.shm_size ~= nil then
    local v = sv.shm_size
    if type(v) == "string" then
      local ok, n = pcall(require("bocker.cli").bytes, v, "shm_size")
      if not ok then fail(key_path(path, "shm_size"), "'%s' is not a size such as 64m", v) end
      v = n
    end
    create.shm_size = want_int(v, key_path(path, "shm_size"), 1)
  end
  if sv.sysctls ~= nil then
    local m = string_map(sv.sysctls, key_path(path, "sysctls"))
    local keys = {}
    for k in pairs(m) do keys[#keys + 1] = k end
    table.sort(keys)
    create.sysctls = {}
    for _, k in ipairs(keys) do create.sysctls[#create.sysctls + 1] = k .. "=" .. m[k] end
  end
  for _, k in ipairs { "ipc", "pid" } do
    if sv[k] ~= nil then
      local v = want_string(sv[k], key_path(path, k))
      local ok = v == "host" or v == "private" or v:match("^service:.") or v:match("^container:.")
        or (k == "ipc" and (v == "shareable" or v == "none"))
      if not ok then
        fail(key_path(path, k), "'%s' is not supported (use host, private, %sservice:NAME or container:NAME)", v,
          k == "ipc" and "shareable, none, " or "")
      end
      create[k] = v
    end
  end
  if sv.stop_grace_period ~= nil then def.stop_timeout = want_duration(sv.stop_grace_period, key_path(path, "stop_grace_period")) end
  if sv.init ~= nil then def.init = want_bool(sv.init, key_path(path, "init")) end
  if sv.tty ~= nil and want_bool(sv.tty, key_path(path, "tty")) then create.tty = true end
  if sv.stdin_open ~= nil and want_bool(sv.stdin_open, key_path(path, "stdin_open")) then
    fail(key_path(path, "stdin_open"), "not supported (containers of a project run detached, without stdin)")
  end
  for _, k in ipairs { "cap_add", "cap_drop" } do
    if sv[k] ~= nil then
      create[k] = {}
      for i, c in ipairs(want_list(sv[k], key_path(path, k))) do create[k][i] = want_string(c, key_path(key_path(path, k), i)) end
    end
  end
  if sv.read_only ~= nil and want_bool(sv.read_only, key_path(path, "read_only")) then create.read_only = true end
  for _, k in ipairs { "security_opt", "devices" } do
    if sv[k] ~= nil then
      create[k] = {}
      for i, x in ipairs(want_list(sv[k], key_path(path, k))) do
        local p = key_path(key_path(path, k), i)
        if type(x) == "table" then fail(p, "use the short syntax (a string)") end
        create[k][i] = want_string(x, p)
      end
    end
  end
  if sv.logging ~= nil then
    local lp = key_path(path, "logging")
    local lg = want_map(sv.logging, lp)
    only(lg, { driver = true, options = true }, lp)
    if lg.driver ~= nil and lg.driver ~= "json-file" and lg.driver ~= "local" then
      fail(key_path(lp, "driver"), "only json-file is supported (bocker keeps a JSON-lines log)")
    end
    if lg.options ~= nil then
      local op = key_path(lp, "options")
      local o = want_map(lg.options, op)
      only(o, { ["max-size"] = true, ["max-file"] = true }, op)
      create.log_opts = {}
      for _, k in ipairs { "max-size", "max-file" } do
        if o[k] ~= nil then create.log_opts[#create.log_opts + 1] = k .. "=" .. want_string(o[k], key_path(op, k)) end
      end
    end
  end
  if sv.privileged ~= nil and want_bool(sv.privileged, key_path(path, "privileged")) then create.privileged = true end
  if sv.mem_limit ~= nil then def.memory = type(sv.mem_limit) == "number" and sv.mem_limit or want_string(sv.mem_limit, key_path(path, "mem_limit")) end
  if sv.pids_limit ~= nil then def.pids_limit = want_int(sv.pids_limit, key_path(path, "pids_limit"), -1) end
  if sv.cpu_shares ~= nil then def.cpu_shares = want_int(sv.cpu_shares, key_path(path, "cpu_shares"), 2) end

  if sv.deploy ~= nil then
    local p = key_path(path, "deploy")
    local d = want_map(sv.deploy, p)
    only(d, { replicas = true, resources = true, mode = true, restart_policy = "not supported (use restart)",
              labels = "not supported", placement = "not supported", update_config = "not supported",
              rollback_config = "not supported", endpoint_mode = "not supported" }, p)
    if d.mode ~= nil and d.mode ~= "replicated" then fail(key_path(p, "mode"), "only replicated is supported") end
    if d.replicas ~= nil then def.replicas = want_int(d.replicas, key_path(p, "replicas"), 0) end
    if d.resources ~= nil then
      local rp = key_path(p, "resources")
      local r = want_map(d.resources, rp)
      only(r, { limits = true, reservations = "not supported" }, rp)
      if r.limits ~= nil then
        local lp = key_path(rp, "limits")
        local l = want_map(r.limits, lp)
        only(l, { memory = true, pids = true, cpus = true, devices = "not supported" }, lp)
        if l.cpus ~= nil then create.cpus = want_cpus(l.cpus, key_path(lp, "cpus")) end
        if l.memory ~= nil then def.memory = type(l.memory) == "number" and l.memory or want_string(l.memory, key_path(lp, "memory")) end
        if l.pids ~= nil then def.pids_limit = want_int(l.pids, key_path(lp, "pids"), -1) end
      end
    end
  end
  if next(create) then def.create = create end
  -- pull_policy is compose's, not the project's: convert keeps it beside the project.
  local policy = "missing"
  if sv.pull_policy ~= nil then
    policy = want_string(sv.pull_policy, key_path(path, "pull_policy"))
    if policy == "if_not_present" then policy = "missing" end
    if policy ~= "missing" and policy ~= "always" and policy ~= "never" then
      fail(key_path(path, "pull_policy"), "'%s' is not supported (use missing, always or never)", policy)
    end
  end
  return def, policy, build
end

return service
