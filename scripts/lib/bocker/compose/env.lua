-- bocker.compose.env: the variables a compose file sees (.env, then the environment) and
-- interpolation: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error},
-- ${VAR:+alt}, ${VAR+alt}, and $$ for a literal $. Errors name the value's path
-- ("services.web.image: ...").
local E = {}

local function fail(msg)
  error(bocker.error("invalid_argument", msg), 0)
end

--- Reads a .env file: KEY=VALUE lines, `export ` accepted, '#' comments, values in single
--- quotes taken literally, in double quotes with \n \t \" \\ and ${...} of earlier lines.
--- Returns a table name → value, or nil when the file does not exist.
function E.read_dotenv(path, lookup)
  local f = io.open(path, "r")
  if not f then return nil end
  local vars, n = {}, 0
  for line in f:lines() do
    n = n + 1
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      line = line:gsub("^export%s+", "")
      local k, v = line:match("^([%w_.%-]+)%s*=%s*(.*)$")
      if not k then
        f:close()
        fail(("%s: line %d: expected KEY=VALUE, got '%s'"):format(path, n, line))
      end
      local q = v:sub(1, 1)
      if q == "'" and v:match("^'.*'") then
        v = v:match("^'(.*)'")
      elseif q == '"' and v:match('^".*"') then
        v = v:match('^"(.*)"'):gsub("\\(.)", { n = "\n", t = "\t", ['"'] = '"', ["\\"] = "\\" })
        v = E.interpolate(v, function(name) return vars[name] or (lookup and lookup(name)) end, path .. ": line " .. n)
      else
        v = v:gsub("%s+#.*$", "")
        v = E.interpolate(v, function(name) return vars[name] or (lookup and lookup(name)) end, path .. ": line " .. n)
      end
      vars[k] = v
    end
  end
  f:close()
  return vars
end

--- Where ${...} ends: the index of its closing brace (braces nest: ${A:-${B}}).
local function closing(s, from)
  local depth = 0
  for i = from, #s do
    local c = s:sub(i, i)
    if c == "{" then depth = depth + 1
    elseif c == "}" then
      depth = depth - 1
      if depth == 0 then return i end
    end
  end
  return nil
end

--- Interpolates one string. `get(name)` gives a variable's value or nil when unset; `path`
--- names the value in errors. `warn(name)` is called for a variable that is unset and has no
--- default (it becomes "").
function E.interpolate(s, get, path, warn)
  if not s:find("$", 1, true) then return s end
  local out, i = {}, 1
  while i <= #s do
    local d = s:find("$", i, true)
    if not d then out[#out + 1] = s:sub(i) break end
    out[#out + 1] = s:sub(i, d - 1)
    local nxt = s:sub(d + 1, d + 1)
    if nxt == "$" then
      out[#out + 1] = "$"
      i = d + 2
    elseif nxt == "{" then
      local e = closing(s, d + 1)
      if not e then fail(("%s: invalid interpolation format for '%s': no closing '}'"):format(path, s)) end
      local body = s:sub(d + 2, e - 1)
      local name, op, arg = body:match("^([%a_][%w_]*)([:]?[-?+])(.*)$")
      if not name then
        name = body:match("^([%a_][%w_]*)$")
        if not name then fail(("%s: invalid interpolation format for '%s': '${%s}'"):format(path, s, body)) end
      end
      local v = get(name)
      local empty_counts = op and op:sub(1, 1) == ":"
      local set = v ~= nil and not (empty_counts and v == "")
      local kind = op and op:sub(-1)
      if kind == "-" then
        out[#out + 1] = set and v or E.interpolate(arg, get, path, warn)
      elseif kind == "?" then
        if not set then
          fail(("%s: required variable %s is missing a value%s"):format(path, name,
            arg ~= "" and (": " .. E.interpolate(arg, get, path, warn)) or ""))
        end
        out[#out + 1] = v
      elseif kind == "+" then
        out[#out + 1] = set and E.interpolate(arg, get, path, warn) or ""
      else
        if v == nil and warn then warn(name) end
        out[#out + 1] = v or ""
      end
      i = e + 1
    else
      local name = s:match("^[%a_][%w_]*", d + 1)
      if name then
        local v = get(name)
        if v == nil and warn then warn(name) end
        out[#out + 1] = v or ""
        i = d + 1 + #name
      else
        fail(("%s: invalid interpolation format for '%s': a '$' must be followed by a name, '{' or '$' (write $$ for a $)")
          :format(path, s))
      end
    end
  end
  return table.concat(out)
end

--- Interpolates every string value of a decoded compose file in place (not the keys; not
--- inside x- extensions). Returns the tree.
function E.interpolate_tree(tree, get, warn)
  local function walk(v, path)
    if type(v) == "string" then return E.interpolate(v, get, path, warn) end
    if type(v) ~= "table" then return v end
    for k, x in pairs(v) do
      local kp = path == "" and tostring(k) or (path .. "." .. tostring(k))
      if not (type(k) == "string" and k:sub(1, 2) == "x-") then v[k] = walk(x, kp) end
    end
    return v
  end
  return walk(tree, "")
end

return E
