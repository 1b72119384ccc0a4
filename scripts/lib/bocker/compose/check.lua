-- bocker.compose.check: checking values of a compose file, each error naming the value's path
-- ("services.web.ports[0]: ..."), and the helpers the other compose modules share.
local L = require "bocker.compose.load"
local K = {}

local NULL = bocker.yaml.null
K.NULL = NULL

local function fail(path, fmt, ...)
  local msg = select("#", ...) > 0 and fmt:format(...) or fmt
  error(bocker.error("invalid_argument", path .. ": " .. msg), 0)
end

local function key_path(path, k)
  if math.type(k) == "integer" then return path .. "[" .. (k - 1) .. "]" end
  return path == "" and tostring(k) or (path .. "." .. tostring(k))
end

local function is_map(v) return type(v) == "table" and (next(v) == nil or #v == 0) end
local function is_list(v) return type(v) == "table" and (next(v) == nil or #v > 0) end

local function want_string(v, path)
  if type(v) == "number" then return tostring(math.tointeger(v) or v) end
  if type(v) ~= "string" then fail(path, "must be a string") end
  return v
end

local function want_bool(v, path)
  if type(v) ~= "boolean" then fail(path, "must be true or false") end
  return v
end

local function want_int(v, path, min)
  if math.type(v) ~= "integer" and not (type(v) == "string" and v:match("^%d+$")) then fail(path, "must be a whole number") end
  v = math.tointeger(tonumber(v))
  if min and v < min then fail(path, "must be %d or more", min) end
  return v
end

local function want_duration(v, path)
  local ok, r = pcall(bocker.duration, v)
  if not ok then fail(path, "must be a duration such as 10s or 1m30s") end
  return r
end

local function want_list(v, path)
  if type(v) == "string" then return { v } end
  if not is_list(v) then fail(path, "must be a list") end
  return v
end

local function want_map(v, path)
  if v == NULL then return {} end
  if not is_map(v) then fail(path, "must be a mapping") end
  return v
end

--- Checks that every key of `t` is in `allowed` (a set; x- extensions pass). `allowed[k]` may
--- be a string: the reason that key cannot be used with bocker.
local function only(t, allowed, path)
  for k in pairs(t) do
    local a = allowed[k]
    if not (type(k) == "string" and k:sub(1, 2) == "x-") then
      if a == nil then fail(key_path(path, k), "not supported") end
      if type(a) == "string" then fail(key_path(path, k), "%s", a) end
    end
  end
end

--- A command line as compose splits it (POSIX shell words, no expansion).
local function shell_split(s, path)
  local words, cur, i, inword = {}, {}, 1, false
  while i <= #s do
    local c = s:sub(i, i)
    if c:match("%s") then
      if inword then words[#words + 1] = table.concat(cur); cur = {}; inword = false end
    elseif c == "'" then
      local e = s:find("'", i + 1, true)
      if not e then fail(path, "unterminated quote in '%s'", s) end
      cur[#cur + 1] = s:sub(i + 1, e - 1); inword = true; i = e
    elseif c == '"' then
      local j = i + 1
      inword = true
      while true do
        local ch = s:sub(j, j)
        if ch == "" then fail(path, "unterminated quote in '%s'", s) end
        if ch == '"' then break end
        if ch == "\\" and s:sub(j + 1, j + 1):match('["\\$`]') then cur[#cur + 1] = s:sub(j + 1, j + 1); j = j + 2
        else cur[#cur + 1] = ch; j = j + 1 end
      end
      i = j
    elseif c == "\\" and i < #s then
      cur[#cur + 1] = s:sub(i + 1, i + 1); inword = true; i = i + 1
    else
      cur[#cur + 1] = c; inword = true
    end
    i = i + 1
  end
  if inword then words[#words + 1] = table.concat(cur) end
  return words
end

local function argv(v, path)
  if v == NULL then return nil end
  if type(v) == "string" then return shell_split(v, path) end
  local out = {}
  for i, x in ipairs(want_list(v, path)) do out[i] = want_string(x, key_path(path, i)) end
  return out
end

local function string_map(v, path, get)
  if is_list(v) and next(v) ~= nil then v = L.as_map(v) end
  v = want_map(v, path)
  local out = {}
  for k, x in pairs(v) do
    if x == NULL then
      local val = get and get(k)
      if val ~= nil then out[k] = val end
    elseif type(x) == "boolean" then out[k] = tostring(x)
    else out[k] = want_string(x, key_path(path, k)) end
  end
  return out
end

K.fail, K.key_path, K.is_map, K.is_list, K.only, K.argv, K.string_map = fail, key_path, is_map, is_list, only, argv, string_map
K.want_string, K.want_bool, K.want_int, K.want_duration, K.want_list, K.want_map =
  want_string, want_bool, want_int, want_duration, want_list, want_map
K.shell_split = shell_split
return K
