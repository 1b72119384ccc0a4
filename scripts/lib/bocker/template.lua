-- bocker.template: the subset of Go's text/template that Docker's --format uses, over Lua
-- tables (`ps --format`, `images --format`, `inspect -f`, `network ls`, `volume ls`).
--
--   {{.Field}} {{.A.B}} {{.}} {{$}} {{$var}}      values (a missing key prints <no value>,
--                                                  a JSON null <nil>, as Go's maps do)
--   {{json .X}} {{index .X "k" 0}} {{join .X ", "}} {{lower .X}} {{upper .X}} {{title .X}}
--   {{split .X ","}} {{len .X}} {{truncate .X 12}} {{pad .X 1 1}} {{println .X}}
--   {{eq .A "b"}} {{ne ..}} {{not ..}} {{and ..}} {{or ..}}
--   {{.X | upper}} (pipes), ( ) for sub-expressions, "strings", `raw`, numbers, true/false
--   {{if P}}…{{else if P}}…{{else}}…{{end}}  {{range P}}…{{else}}…{{end}}
--   {{range $v := P}} {{range $k, $v := P}}  {{with P}}…{{else}}…{{end}}  {{- trim -}}
--
-- and Docker's own rules (cli.format): a leading `table` prints a header row (each field's
-- Docker column name) and aligns the `\t`-separated columns; `\t` and `\n` in the format are
-- a tab and a newline; `json` alone is `{{json .}}`.
local template = {}

local funcs = {}   -- the template functions (filled below)

local function fail(msg)
  error(bocker.error("invalid_argument", "template: " .. msg, 125), 0)
end

-- Lexing one action's text into tokens.
local function lex(src)
  local toks, i = {}, 1
  while i <= #src do
    local c = src:sub(i, i)
    if c:match("%s") then
      i = i + 1
    elseif c == '"' then
      local j, buf = i + 1, {}
      while true do
        local d = src:sub(j, j)
        if d == "" then fail("unterminated string in {{" .. src .. "}}") end
        if d == '"' then break end
        if d == "\\" then
          local e = src:sub(j + 1, j + 1)
          buf[#buf + 1] = ({ n = "\n", t = "\t", ['"'] = '"', ["\\"] = "\\" })[e] or e
          j = j + 2
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      toks[#toks + 1] = { k = "lit", v = table.concat(buf) }
      i = j + 1
    elseif c == "`" then
      local j = src:find("`", i + 1, true) or fail("unterminated raw string in {{" .. src .. "}}")
      toks[#toks + 1] = { k = "lit", v = src:sub(i + 1, j - 1) }
      i = j + 1
    elseif c == "(" or c == ")" or c == "|" or c == "," then
      toks[#toks + 1] = { k = c }
      i = i + 1
    elseif src:sub(i, i + 1) == ":=" then
      toks[#toks + 1] = { k = ":=" }
      i = i + 2
    else
      local word = src:match("^[^%s()|,\"`]+", i)
      if word:find(":=", 1, true) then word = word:sub(1, word:find(":=", 1, true) - 1) end
      i = i + #word
      local n = tonumber(word)
      if n then toks[#toks + 1] = { k = "lit", v = n }
      elseif word == "true" or word == "false" then toks[#toks + 1] = { k = "lit", v = word == "true" }
      elseif word == "nil" then toks[#toks + 1] = { k = "lit", v = nil }
      elseif word:sub(1, 1) == "." or word:sub(1, 1) == "$" then
        local base, path = word:match("^(%$?[%w_]*)(.*)$")
        if word:sub(1, 1) == "." then base, path = ".", word end
        local fields = {}
        for f in path:gmatch("%.([^.]+)") do fields[#fields + 1] = f end
        if path ~= "" and path ~= "." and #fields == 0 then fail("bad field '" .. word .. "'") end
        toks[#toks + 1] = { k = "ref", base = base, fields = fields }
      elseif word:match("^[%a_][%w_]*$") then
        toks[#toks + 1] = { k = "ident", v = word }
      else
        fail("unexpected '" .. word .. "' in {{" .. src .. "}}")
      end
    end
  end
  return toks
end

-- Parsing tokens into a pipeline: { commands = { {args...}, ... } } where each arg is a
-- literal, a reference, a function name or a nested pipeline.
local function parse_pipeline(toks, pos, stop)
  local cmds, cur = {}, {}
  while pos <= #toks do
    local t = toks[pos]
    if t.k == stop then break end
    if t.k == "|" then
      if #cur == 0 then fail("empty command before |") end
      cmds[#cmds + 1] = cur; cur = {}
      pos = pos + 1
    elseif t.k == "(" then
      local sub
      sub, pos = parse_pipeline(toks, pos + 1, ")")
      if not toks[pos] then fail("unclosed (") end
      cur[#cur + 1] = { k = "pipe", pipe = sub }
      pos = pos + 1
    elseif t.k == ")" then
      fail("unexpected )")
    elseif t.k == "ident" and not funcs[t.v] then
      fail(("function \"%s\" not defined"):format(t.v))
    else
      cur[#cur + 1] = t
      pos = pos + 1
    end
  end
  if #cur == 0 then fail("empty pipeline") end
  cmds[#cmds + 1] = cur
  return { commands = cmds }, pos
end

-- Splitting the text into a tree of text, actions and blocks.
local function parse(text)
  local root = { t = "list", items = {} }
  local stack = { { node = root, list = root.items } }
  local pos = 1
  local function top() return stack[#stack] end
  while pos <= #text do
    local s = text:find("{{", pos, true)
    local chunk = text:sub(pos, (s or #text + 1) - 1)
    if s and text:sub(s + 2, s + 2) == "-" and text:sub(s + 3, s + 3):match("%s") then
      chunk = chunk:gsub("%s+$", "")
    end
    if chunk ~= "" then table.insert(top().list, { t = "text", s = chunk }) end
    if not s then break end
    local e = text:find("}}", s + 2, true) or fail("unclosed action")
    local inner = text:sub(s + 2, e - 1)
    local trim_right = false
    inner = inner:gsub("^%-%s", "")
    if inner:match("%s%-$") then inner = inner:gsub("%s%-$", ""); trim_right = true end
    pos = e + 2
    if trim_right then pos = text:find("[^%s]", pos) or #text + 1 end
    inner = inner:gsub("^%s+", ""):gsub("%s+$", "")
    if inner:match("^/%*") then goto continue end   -- {{/* comment */}}
    local kw, rest = inner:match("^(%a+)%s*(.*)$")
    if kw == "end" then
      if #stack == 1 then fail("unexpected {{end}}") end
      repeat local b = table.remove(stack) until not b.chained
    elseif kw == "else" then
      local b = top()
      if #stack == 1 or b.in_else then fail("unexpected {{else}}") end
      b.node.els = {}
      b.list, b.in_else = b.node.els, true
      local kw2, rest2 = rest:match("^(%a+)%s*(.*)$")
      if kw2 == "if" or kw2 == "with" then
        local node = { t = kw2, pipe = (parse_pipeline(lex(rest2), 1)), body = {} }
        table.insert(b.list, node)
        stack[#stack + 1] = { node = node, list = node.body, chained = true }
      elseif rest ~= "" then
        fail("unexpected '" .. rest .. "' after else")
      end
    elseif kw == "if" or kw == "with" or kw == "range" then
      local toks = lex(rest)
      local vars = {}
      for k = 1, #toks do
        if toks[k].k == ":=" then
          for v = 1, k - 1 do
            if toks[v].k == "ref" and toks[v].base:sub(1, 1) == "$" and #toks[v].fields == 0 then vars[#vars + 1] = toks[v].base
            elseif toks[v].k ~= "," then fail("bad variable in {{" .. inner .. "}}") end
          end
          toks = table.move(toks, k + 1, #toks, 1, {})
          break
        end
      end
      local node = { t = kw, pipe = (parse_pipeline(toks, 1)), body = {}, vars = vars }
      table.insert(top().list, node)
      stack[#stack + 1] = { node = node, list = node.body }
    else
      local toks = lex(inner)
      local var
      if #toks >= 2 and toks[2].k == ":=" and toks[1].k == "ref" then
        var = toks[1].base
        toks = table.move(toks, 3, #toks, 1, {})
      end
      table.insert(top().list, { t = "action", pipe = (parse_pipeline(toks, 1)), var = var })
    end
    ::continue::
  end
  if #stack > 1 then fail("missing {{end}}") end
  return root
end

-- Values.
local null = bocker.json and bocker.json.null
local NOVALUE = setmetatable({}, { __tostring = function() return "<no value>" end })

local function is_array(t)
  if type(t) ~= "table" or getmetatable(t) then return false end
  local n = #t
  if n > 0 then return true end
  return next(t) == nil and false
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  return keys
end

-- Go's fmt %v of a value.
local function show(v)
  if v == nil or v == null then return "<nil>" end
  if v == NOVALUE then return "<no value>" end
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and math.abs(v) < 1e15 then return tostring(math.tointeger(v)) end
    return tostring(v)
  end
  if t == "boolean" then return tostring(v) end
  if t == "table" then
    if is_array(v) then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = show(x) end
      return "[" .. table.concat(parts, " ") .. "]"
    end
    local parts = {}
    for _, k in ipairs(sorted_keys(v)) do parts[#parts + 1] = tostring(k) .. ":" .. show(v[k]) end
    return "map[" .. table.concat(parts, " ") .. "]"
  end
  return tostring(v)
end

local function truthy(v)
  if v == nil or v == null or v == NOVALUE or v == false or v == 0 or v == "" then return false end
  if type(v) == "table" then return next(v) ~= nil end
  return true
end

local function str(v) return type(v) == "string" and v or show(v) end

funcs.json = function(v)
  if v == NOVALUE or v == nil then return "null" end
  return bocker.json(v)
end
funcs.index = function(v, ...)
  for _, k in ipairs { ... } do
    if type(v) ~= "table" then fail("index of a non-table value") end
    if type(k) == "number" and is_array(v) then v = v[k + 1] else v = v[k] end
    if v == nil then return NOVALUE end
  end
  return v
end
funcs.join = function(v, sep)
  if type(v) ~= "table" then return str(v) end
  local parts = {}
  for i, x in ipairs(v) do parts[i] = str(x) end
  return table.concat(parts, sep or "")
end
funcs.lower = function(v) return str(v):lower() end
funcs.upper = function(v) return str(v):upper() end
funcs.title = function(v) return (str(v):gsub("(%a)([%w_']*)", function(a, b) return a:upper() .. b end)) end
funcs.split = function(v, sep)
  local out, s = {}, str(v)
  if sep == "" then for ch in s:gmatch(".") do out[#out + 1] = ch end return out end
  local i = 1
  while true do
    local a, b = s:find(sep, i, true)
    if not a then out[#out + 1] = s:sub(i); break end
    out[#out + 1] = s:sub(i, a - 1)
    i = b + 1
  end
  return out
end
funcs.len = function(v)
  if type(v) == "string" then return #v end
  if type(v) == "table" then local n = 0 for _ in pairs(v) do n = n + 1 end return n end
  fail("len of a " .. type(v))
end
funcs.truncate = function(v, n) local s = str(v) return #s > n and s:sub(1, n) or s end
funcs.pad = function(v, l, r) return string.rep(" ", l) .. str(v) .. string.rep(" ", r) end
funcs.println = function(...) local p = {} for i, x in ipairs { ... } do p[i] = str(x) end return table.concat(p, " ") .. "\n" end
funcs.print = function(...) local p = {} for i, x in ipairs { ... } do p[i] = str(x) end return table.concat(p, "") end
funcs.eq = function(a, ...) for _, b in ipairs { ... } do if a == b then return true end end return false end
funcs.ne = function(a, b) return a ~= b end
funcs["not"] = function(v) return not truthy(v) end
funcs["and"] = function(...) local args = { ... } local last for i = 1, select("#", ...) do last = args[i] if not truthy(last) then return last end end return last end
funcs["or"] = function(...) local args = { ... } local last for i = 1, select("#", ...) do last = args[i] if truthy(last) then return last end end return last end

-- Evaluating.
local eval_pipe

local function field(v, name)
  if v == nil or v == null or v == NOVALUE then return NOVALUE end
  if type(v) ~= "table" then fail(("can't evaluate field %s in type %s"):format(name, type(v))) end
  local x = v[name]
  if x == nil then return NOVALUE end
  return x
end

local function eval_arg(a, dot, scope)
  if a.k == "lit" then return a.v end
  if a.k == "pipe" then return eval_pipe(a.pipe, dot, scope) end
  if a.k == "ref" then
    local v
    if a.base == "." then v = dot
    elseif a.base == "$" then v = scope["$"]
    else
      v = scope[a.base]
      if v == nil and not scope["defined:" .. a.base] then fail("undefined variable " .. a.base) end
    end
    for _, f in ipairs(a.fields) do v = field(v, f) end
    return v
  end
  if a.k == "ident" then
    if not funcs[a.v] then fail(("function \"%s\" not defined"):format(a.v)) end
    return funcs[a.v]()
  end
  fail("unexpected token")
end

function eval_pipe(pipe, dot, scope)
  local value, have = nil, false
  for _, cmd in ipairs(pipe.commands) do
    local head = cmd[1]
    if head.k == "ident" then
      local f = funcs[head.v] or fail(("function \"%s\" not defined"):format(head.v))
      local args = {}
      for i = 2, #cmd do args[#args + 1] = eval_arg(cmd[i], dot, scope) end
      if have then args[#args + 1] = value end
      value = f(table.unpack(args, 1, #cmd - 1 + (have and 1 or 0)))
    else
      if #cmd > 1 then fail("can't give arguments to a non-function") end
      if have then fail("a non-function can't follow |") end
      value = eval_arg(head, dot, scope)
    end
    have = true
  end
  return value
end

local function run(nodes, dot, scope, out)
  for _, n in ipairs(nodes) do
    if n.t == "text" then out[#out + 1] = n.s
    elseif n.t == "action" then
      local v = eval_pipe(n.pipe, dot, scope)
      if n.var then scope[n.var] = v; scope["defined:" .. n.var] = true
      else out[#out + 1] = show(v) end
    elseif n.t == "if" then
      if truthy(eval_pipe(n.pipe, dot, scope)) then run(n.body, dot, scope, out)
      elseif n.els then run(n.els, dot, scope, out) end
    elseif n.t == "with" then
      local v = eval_pipe(n.pipe, dot, scope)
      if truthy(v) then run(n.body, v, scope, out) elseif n.els then run(n.els, dot, scope, out) end
    elseif n.t == "range" then
      local v = eval_pipe(n.pipe, dot, scope)
      local items = {}
      if type(v) == "table" and v ~= null and v ~= NOVALUE then
        if is_array(v) then for i, x in ipairs(v) do items[#items + 1] = { i - 1, x } end
        else for _, k in ipairs(sorted_keys(v)) do items[#items + 1] = { k, v[k] } end end
      elseif v ~= nil and v ~= null and v ~= NOVALUE then
        fail("range can't iterate over " .. show(v))
      end
      if #items == 0 then
        if n.els then run(n.els, dot, scope, out) end
      else
        for _, kv in ipairs(items) do
          if #n.vars == 1 then scope[n.vars[1]] = kv[2]; scope["defined:" .. n.vars[1]] = true
          elseif #n.vars == 2 then
            scope[n.vars[1]], scope[n.vars[2]] = kv[1], kv[2]
            scope["defined:" .. n.vars[1]], scope["defined:" .. n.vars[2]] = true, true
          end
          run(n.body, kv[2], scope, out)
        end
      end
    end
  end
end

--- Compiles a template text; returns a function(value) → string. Raises a one-line error
--- (exit 125) for a malformed template.
function template.compile(text)
  local tree = parse(text)
  return function(value)
    local out = {}
    run(tree.items, value, { ["$"] = value }, out)
    return table.concat(out)
  end
end

--- Docker's column names for the fields of its list commands; others are the field name
--- split at capitals and upper-cased (CreatedAt → CREATED AT).
template.headers = {
  ID = "CONTAINER ID", Names = "NAMES", Image = "IMAGE", Command = "COMMAND", CreatedAt = "CREATED AT",
  RunningFor = "CREATED", Status = "STATUS", Ports = "PORTS", State = "STATE", Size = "SIZE",
  Labels = "LABELS", Mounts = "MOUNTS", Networks = "NETWORKS", LocalVolumes = "LOCAL VOLUMES",
  Repository = "REPOSITORY", Tag = "TAG", Digest = "DIGEST", CreatedSince = "CREATED",
  Name = "NAME", Driver = "DRIVER", Scope = "SCOPE", Mountpoint = "MOUNTPOINT",
}

local function header_of(name, overrides)
  if overrides and overrides[name] then return overrides[name] end
  if template.headers[name] then return template.headers[name] end
  return (name:gsub("(%l)(%u)", "%1 %2"):upper())
end

-- A value standing for the header row: each field is its column name.
local function header_object(overrides)
  return setmetatable({}, { __index = function(_, k) return header_of(k, overrides) end })
end

--- Go's tabwriter as Docker sets it up (minwidth 10, padding 3, spaces): aligns the
--- tab-separated cells of lines; the last cell of each line is not padded.
function template.align(lines)
  local widths = {}
  local rows = {}
  for i, line in ipairs(lines) do
    local cells = {}
    for cell in (line .. "\t"):gmatch("(.-)\t") do cells[#cells + 1] = cell end
    rows[i] = cells
    for c = 1, #cells - 1 do widths[c] = math.max(widths[c] or 0, math.max(10, utf8.len(cells[c]) or #cells[c]) + 3) end
  end
  local out = {}
  for i, cells in ipairs(rows) do
    local parts = {}
    for c, cell in ipairs(cells) do
      if c < #cells then
        parts[c] = cell .. string.rep(" ", widths[c] - (utf8.len(cell) or #cell))
      else
        parts[c] = cell
      end
    end
    out[i] = table.concat(parts)
  end
  return out
end

--- Docker's --format for a list: `json` is one JSON object a line; `table …` adds a header
--- row and aligns columns; anything else is the template, one line per item. Returns the
--- lines (without newlines). `headers` overrides column names (images: ID = "IMAGE ID").
function template.format_list(format, items, headers)
  if format == "json" then format = "{{json .}}" end
  local is_table = format:match("^table%f[%A]") ~= nil
  if is_table then format = format:sub(6) end
  format = format:gsub("^%s+", ""):gsub("%s+$", ""):gsub("\\t", "\t"):gsub("\\n", "\n")
  local render = template.compile(format)
  local lines = {}
  if is_table then lines[1] = render(header_object(headers)) end
  for _, item in ipairs(items) do lines[#lines + 1] = render(item) end
  if is_table then lines = template.align(lines) end
  return lines
end

--- The same, for one value (inspect -f): `\t`/`\n` unescaped, no table.
function template.format_one(format, value)
  format = format:gsub("\\t", "\t"):gsub("\\n", "\n")
  return template.compile(format)(value)
end

template.show = show
return template
