-- bocker.project.util: errors with the user's line, "did you mean", hashing and small helpers
-- shared by the modules of bocker.project (see project.lua for the map).
local U = {}

U.LABEL_PROJECT = "bocker.project"
U.LABEL_SERVICE = "bocker.service"
U.LABEL_NUMBER = "bocker.container-number"
U.LABEL_HASH = "bocker.config-hash"

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

local distance = require("bocker.strings").distance

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

local function needs_shell(s)
  return s:find("[%s;&|<>()$`\\\"'*?~#{}%[%]]") ~= nil
end

local function copy(t)
  if type(t) ~= "table" then return t end
  local out = {}
  for k, v in pairs(t) do out[k] = copy(v) end
  return out
end

local function ensure_dir(path)
  local ok = os.execute("mkdir -p " .. shquote(path))
  if not ok then raise("", "io", "cannot create the folder '%s'", path) end
end

U.raise, U.where_at, U.message_of, U.distance, U.suggestion, U.sorted_keys = raise, where_at, message_of, distance, suggestion, sorted_keys
U.fnv1a64, U.shquote, U.dirname, U.needs_shell, U.copy, U.ensure_dir = fnv1a64, shquote, dirname, needs_shell, copy, ensure_dir
return U
