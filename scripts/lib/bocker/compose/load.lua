-- bocker.compose.load: finding the compose files, reading them (bocker.yaml), merging several
-- (-f a.yaml -f b.yaml, as compose merges) and interpolating variables from the environment
-- and .env. The result is the file's model as plain tables, checked by bocker.compose.convert.
local E = require "bocker.compose.env"
local L = {}

L.NAMES = { "compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml" }

local function fail(msg)
  error(bocker.error("invalid_argument", msg), 0)
end

local function dirname(path)
  local d = path:match("^(.*)/[^/]*$")
  if d == nil then return "." end
  if d == "" then return "/" end
  return d
end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  return (bocker.fs.cwd() .. "/" .. path:gsub("^%./", ""))
end
L.absolute, L.dirname = absolute, dirname

--- The compose file of the current folder (the first of L.NAMES that exists).
function L.discover()
  local cwd = bocker.fs.cwd()
  for _, n in ipairs(L.NAMES) do
    if bocker.fs.exists(cwd .. "/" .. n) then return cwd .. "/" .. n end
  end
  fail("no compose file in " .. cwd .. " (looked for " .. table.concat(L.NAMES, ", ") .. "; use -f FILE)")
end

local NULL = bocker.yaml.null

-- Merging: a later file's mapping keys override an earlier file's, recursively; a few lists
-- are combined the way compose combines them.
local function is_list(t) return type(t) == "table" and (#t > 0 or next(t) == nil) end

--- A list of KEY=VALUE (or KEY) strings, or a mapping, as a mapping (for environment, labels).
local function as_map(v)
  if type(v) ~= "table" then return v end
  if #v == 0 then return v end
  local out = {}
  for _, kv in ipairs(v) do
    local k, val = tostring(kv):match("^([^=]+)=(.*)$")
    if k then out[k] = val else out[tostring(kv)] = NULL end
  end
  return out
end
L.as_map = as_map

local function depends_map(v)
  if type(v) ~= "table" or #v == 0 then return v end
  local out = {}
  for _, name in ipairs(v) do out[name] = { condition = "service_started" } end
  return out
end

local function volume_target(v)
  if type(v) == "table" then return v.target end
  local parts = {}
  for p in tostring(v):gmatch("[^:]+") do parts[#parts + 1] = p end
  if #parts == 1 then return parts[1] end
  return parts[2]
end

local function merge(a, b, path)
  if b == nil then return a end
  if type(a) ~= "table" or type(b) ~= "table" then return b end
  local last = path:match("([^.]+)$")
  local svc_level = path:match("^services%.[^.]+%.[^.]+$") ~= nil
  if svc_level and (last == "environment" or last == "labels") then a, b = as_map(a), as_map(b)
  elseif svc_level and last == "depends_on" then a, b = depends_map(a), depends_map(b) end
  if svc_level and (last == "command" or last == "entrypoint") then return b end
  if is_list(a) and is_list(b) and #a + #b > 0 then
    if svc_level and (last == "volumes" or last == "secrets" or last == "configs") then
      local out, pos = {}, {}
      for _, x in ipairs(a) do out[#out + 1] = x; pos[volume_target(x) or #out] = #out end
      for _, x in ipairs(b) do
        local t = volume_target(x)
        if t and pos[t] then out[pos[t]] = x else out[#out + 1] = x end
      end
      return out
    elseif svc_level and (last == "ports" or last == "expose" or last == "tmpfs" or last == "dns"
                          or last == "extra_hosts" or last == "cap_add" or last == "cap_drop" or last == "env_file") then
      local out, seen = {}, {}
      for _, list in ipairs { a, b } do
        for _, x in ipairs(list) do
          local key = type(x) == "table" and bocker.json(x) or tostring(x)
          if not seen[key] then seen[key] = true; out[#out + 1] = x end
        end
      end
      return out
    end
    return b
  end
  if is_list(a) ~= is_list(b) then return b end
  local out = {}
  for k, v in pairs(a) do out[k] = v end
  for k, v in pairs(b) do out[k] = merge(a[k], v, path == "" and k or (path .. "." .. k)) end
  return out
end
L.merge = merge

--- Loads the project's model. opts: files = {paths} (default: discovered), env_files = {paths}
--- (default: PROJECT_DIR/.env when it exists), project_dir. Returns model, info where info =
--- {files =, dir =, vars = lookup function, warnings = {}}.
function L.load(opts)
  opts = opts or {}
  local files = {}
  for _, f in ipairs(opts.files or {}) do files[#files + 1] = absolute(f) end
  if #files == 0 then files[1] = L.discover() end
  local dir = opts.project_dir and absolute(opts.project_dir) or dirname(files[1])

  -- Variables: the environment wins over .env, as in compose.
  local dotenv = {}
  local envs = opts.env_files
  if not envs or #envs == 0 then envs = { dir .. "/.env" } ; opts.optional_env = true end
  for _, path in ipairs(envs) do
    local vars = E.read_dotenv(absolute(path), os.getenv)
    if not vars and not opts.optional_env then fail("cannot read the env file " .. path) end
    for k, v in pairs(vars or {}) do dotenv[k] = v end
  end
  local function get(name)
    local v = os.getenv(name)
    if v ~= nil then return v end
    return dotenv[name]
  end
  local warned, warnings = {}, {}
  local function warn(name)
    if not warned[name] then
      warned[name] = true
      warnings[#warnings + 1] = ("the %q variable is not set: using an empty string"):format(name)
    end
  end

  local model = nil
  for _, path in ipairs(files) do
    local f, err = io.open(path, "r")
    if not f then fail("cannot read the compose file " .. path .. ": " .. tostring(err)) end
    local text = f:read("a")
    f:close()
    local ok, doc = pcall(bocker.yaml.decode, text)
    if not ok then fail(path .. ": " .. (type(doc) == "table" and doc.message or tostring(doc))) end
    if doc == NULL or doc == nil then doc = {} end
    if type(doc) ~= "table" or (#doc > 0) then fail(path .. ": the top level must be a mapping (services:, volumes:, ...)") end
    local ok2, r = pcall(E.interpolate_tree, doc, get, warn)
    if not ok2 then fail(path .. ": " .. (type(r) == "table" and r.message or tostring(r))) end
    model = model and merge(model, doc, "") or doc
  end
  return model, { files = files, dir = dir, get = get, warnings = warnings }
end

return L
