-- bocker.dockerfile: Dockerfiles as Docker (BuildKit's parser) reads them, for `bocker build`.
--
--   local dockerfile = require "bocker.dockerfile"
--   local df = dockerfile.parse(text, "Dockerfile")    -- { escape = "\\", instructions = {…} }
--   local plan = dockerfile.stages(df, { VERSION = "1.2" }, { platform = "linux/amd64" })
--   local target = dockerfile.find_stage(plan, "builder")
--   dockerfile.expand("${GOPATH:-/go}/bin", env, { escape = df.escape })  --> text, used names
--   dockerfile.words("a 'b c' $X", env)                                    --> { "a", "b c", … }
--
-- parse raises "<name>:<line>: <message>" (the first line of the instruction at fault); the
-- result's `warnings` lists lines worth a warning (empty continuation lines). Each
-- instruction is a table:
--   line, end_line    its first and last source line
--   cmd               the instruction in capitals ("RUN")
--   flags             the --flags before the arguments: strings, true/false for --link, lists
--                     for repeatable ones (an unknown flag is an error naming it)
--   json              true for the exec (JSON array) form
--   args              the JSON strings (exec form); for the shell form of RUN/CMD/ENTRYPOINT
--                     the whole command line in args[1]; for the others Docker's split words
--                     (unexpanded: expansion happens per stage, with dockerfile.expand)
--   heredocs          { { name, body, expand, chomp, fd } } or nil (body has tabs stripped
--                     when chomp)
--   original          the instruction's text with continuation lines joined
-- and per instruction: pairs (ENV, LABEL: {key, value}; ARG: {key, value or nil}), image and
-- name (FROM), sources and dest (COPY/ADD: { path = … } or { heredoc = name, data, expand }),
-- health (HEALTHCHECK: test and durations in nanoseconds), trigger (ONBUILD: the inner
-- instruction; args[1] is its text as the image config stores it), author (MAINTAINER).
local lex = require "bocker.dockerfile.lex"

local dockerfile = {}

local NAMES = { "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
  "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR" }
local KNOWN = {}
for _, n in ipairs(NAMES) do KNOWN[n] = true end

-- Docker's flags per instruction (bool, string, or strings = repeatable).
local FLAGS = {
  ADD = { chown = "string", chmod = "string", link = "bool", ["keep-git-dir"] = "bool",
    checksum = "string", unpack = "bool", exclude = "strings" },
  COPY = { from = "string", chown = "string", chmod = "string", link = "bool", exclude = "strings",
    parents = "bool" },
  FROM = { platform = "string" },
  RUN = { network = "string", mount = "strings", security = "string", device = "strings" },
  HEALTHCHECK = { interval = "string", timeout = "string", ["start-period"] = "string",
    ["start-interval"] = "string", retries = "string" },
}
-- Docker's flags that bocker's builder does not implement: refused rather than ignored.
local UNSUPPORTED = {
  ADD = { ["keep-git-dir"] = true, checksum = true, unpack = true, exclude = true },
  COPY = { exclude = true, parents = true },
  RUN = { mount = true, security = true, device = true },
}
dockerfile.unsupported_flags = UNSUPPORTED

local NETWORKS = { default = true, none = true, host = true, bridge = true }

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
local function trim_nl(s) return (s:gsub("[\r\n]+$", "")) end

local distance = require("bocker.strings").distance

-- BuildKit's suggest.Search: the closest option within distance 2.
local function suggest(val, options, case_sensitive)
  local v = case_sensitive and val or val:lower()
  local best, min = nil, 3
  for _, o in ipairs(options) do
    local opt = case_sensitive and o or o:lower()
    if opt == v then return nil end
    local d = distance(v, opt)
    if d < min then best, min = opt, d end
  end
  if best and not case_sensitive then
    if val == val:upper() then best = best:upper() elseif val ~= val:lower() then best = best end
  end
  return best
end
dockerfile.suggest = suggest

-- BuildKit's splitting of `--flag` words off the front of the arguments.
local function extract_flags(line, escape)
  local words, i, n = {}, 1, #line
  local phase, quote, blank_ok, buf = "spaces", nil, false, {}
  while i <= n + 1 do
    local ch = line:sub(i, i)
    if phase == "spaces" then
      if i > n then break end
      if lex.is_space(ch) then goto next end
      if ch ~= "-" or i == n or line:sub(i + 1, i + 1) ~= "-" then return line:sub(i), words end
      phase = "word"
    end
    if i > n then
      local w = table.concat(buf)
      if w ~= "--" and (blank_ok or #w > 0) then words[#words + 1] = w end
      break
    end
    if phase == "word" then
      if lex.is_space(ch) then
        local w = table.concat(buf)
        phase = "spaces"
        if w == "--" then return line:sub(i), words end
        if blank_ok or #w > 0 then words[#words + 1] = w end
        buf, blank_ok = {}, false
        goto next
      end
      if ch == "'" or ch == '"' then
        quote, blank_ok, phase = ch, true, "quote"
        goto next
      end
      if ch == escape then
        if i == n then goto next end
        i = i + 1
        ch = line:sub(i, i)
      end
      buf[#buf + 1] = ch
    else -- quote
      if ch == quote then phase = "word"; goto next end
      if ch == escape then
        if i == n then phase = "word"; goto next end
        i = i + 1
        ch = line:sub(i, i)
      end
      buf[#buf + 1] = ch
    end
    ::next::
    i = i + 1
  end
  return "", words
end

-- BuildKit's parseWords: words split on spaces, quotes and escapes kept for later expansion.
local function parse_words(rest, escape)
  local words, buf, phase, quote, blank_ok = {}, {}, "spaces", nil, false
  local i, n = 1, #rest
  while i <= n + 1 do
    local ch = rest:sub(i, i)
    if phase == "spaces" then
      if i > n then break end
      if lex.is_space(ch) then goto next end
      phase = "word"
    end
    if i > n then
      if blank_ok or #buf > 0 then words[#words + 1] = table.concat(buf) end
      break
    end
    if phase == "word" then
      if lex.is_space(ch) then
        phase = "spaces"
        if blank_ok or #buf > 0 then words[#words + 1] = table.concat(buf) end
        buf, blank_ok = {}, false
        goto next
      end
      if ch == "'" or ch == '"' then quote, blank_ok, phase = ch, true, "quote" end
      if ch == escape then
        if i == n then goto next end
        buf[#buf + 1] = ch
        i = i + 1
        ch = rest:sub(i, i)
      end
      buf[#buf + 1] = ch
    else
      if ch == quote then phase = "word" end
      if ch == escape and quote ~= "'" then
        if i == n then phase = "word"; goto next end
        buf[#buf + 1] = ch
        i = i + 1
        ch = rest:sub(i, i)
      end
      buf[#buf + 1] = ch
    end
    ::next::
    i = i + 1
  end
  return words
end

local function split_ws(rest)
  local out = {}
  if rest == "" then return out end
  for w in rest:gmatch("[^\t\v\f\r ]+") do out[#out + 1] = w end
  return out
end

-- Go's time.ParseDuration, in nanoseconds.
local UNITS = { ns = 1, us = 1e3, ["µs"] = 1e3, ["μs"] = 1e3, ms = 1e6, s = 1e9, m = 60e9, h = 3600e9 }
local function go_duration(orig)
  local s, sign = orig, 1
  if s:match("^[+-]") then sign, s = s:sub(1, 1) == "-" and -1 or 1, s:sub(2) end
  if s == "0" then return 0 end
  if s == "" then error('time: invalid duration "' .. orig .. '"', 0) end
  local total = 0
  while s ~= "" do
    local num = s:match("^%d*%.?%d*")
    if num == "" or num == "." then error('time: invalid duration "' .. orig .. '"', 0) end
    s = s:sub(#num + 1)
    local unit = s:match("^[^%d%.]+")
    if not unit then error('time: missing unit in duration "' .. orig .. '"', 0) end
    if not UNITS[unit] then error('time: unknown unit "' .. unit .. '" in duration "' .. orig .. '"', 0) end
    total = total + tonumber(num) * UNITS[unit]
    s = s:sub(#unit + 1)
  end
  return sign * math.floor(total + 0.5)
end
dockerfile.duration = go_duration

local Parser = {}
Parser.__index = Parser

function Parser:fail(line, msg)
  error(self.name .. ":" .. line .. ": " .. msg, 0)
end

-- The syntax of one (joined) line: command, flags, arguments by the command's rule.
function Parser:node(text, line, end_line)
  local t = trim(text)
  local cmd, rest = t:match("^(%S+)[\t\v\f\r ]+(.*)$")
  if not cmd then cmd, rest = t, "" end
  local raw_flags = {}
  if rest ~= "" then rest, raw_flags = extract_flags(rest, self.escape) end
  rest = trim(rest)
  local node = { line = line, end_line = end_line, cmd = cmd:upper(), written = cmd, original = text,
    raw_flags = raw_flags, json = false, args = {}, rest = rest }
  local c = node.cmd
  local function maybe_json(list_fallback)
    local v, err = lex.json_strings(rest)
    if v then node.json, node.args = true, v; return end
    if err == "not_strings" then
      self:fail(line, "when using JSON array syntax, arrays must be comprised of strings only")
    end
    if list_fallback then node.args = split_ws(rest)
    elseif rest ~= "" then node.args = { rest } end
  end
  if c == "ADD" or c == "COPY" or c == "VOLUME" then
    maybe_json(true)
  elseif c == "RUN" or c == "CMD" or c == "ENTRYPOINT" or c == "SHELL" then
    if rest ~= "" then maybe_json(false) end
  elseif c == "ARG" then
    node.args = parse_words(rest, self.escape)
  elseif c == "ENV" or c == "LABEL" then
    local words = parse_words(rest, self.escape)
    node.pairs = {}
    if #words > 0 and not words[1]:find("=", 1, true) then
      local k, v = rest:match("^(%S+)[\t\v\f\r ]+(.*)$")
      if not k then self:fail(line, c .. " must have two arguments") end
      node.pairs[1] = { key = k, value = v }
    else
      for _, w in ipairs(words) do
        local k, v = w:match("^(.-)=(.*)$")
        if not k then
          self:fail(line, string.format("Syntax error - can't find = in %q. Must be of the form: name=value", w))
        end
        node.pairs[#node.pairs + 1] = { key = k, value = v }
      end
    end
    for _, p in ipairs(node.pairs) do node.args[#node.args + 1] = p.key .. "=" .. p.value end
  elseif c == "EXPOSE" or c == "FROM" then
    node.args = split_ws(rest)
  elseif c == "HEALTHCHECK" then
    local typ, after = rest:match("^(%S+)%s*(.*)$")
    if typ then
      rest = after
      maybe_json(false)
      table.insert(node.args, 1, typ)
    end
  elseif c == "ONBUILD" then
    if rest ~= "" then node.trigger = self:node(rest, line, end_line) end
  elseif rest ~= "" then
    node.args = { rest }
  end
  return node
end

local function can_have_heredocs(node)
  if node.cmd == "ONBUILD" and node.trigger then node = node.trigger end
  return (node.cmd == "RUN" or node.cmd == "COPY" or node.cmd == "ADD") and not node.json
end

-- BuildKit's ParseHeredoc: `<<EOF`, `<<-EOF`, `3<<"EOF"`; quoting any part disables expansion.
local function parse_heredoc(word)
  local fd, dash, rest = word:match("^(%d*)<<(%-?)%s*([^<]*)$")
  if not fd or rest == "" then return nil end
  local _, words = lex.process(rest, {}, { skip_unset = true })
  if #words ~= 1 then return nil end
  local _, raw = lex.process(rest, {}, { skip_unset = true, raw_quotes = true })
  local function quotes(s) return select(2, s:gsub("['\"]", "")) end
  return { name = words[1], chomp = dash == "-", expand = quotes(words[1]) == quotes(raw[1] or ""),
    fd = fd ~= "" and tonumber(fd) or nil }
end
dockerfile.parse_heredoc = parse_heredoc

local function heredocs_in(line)
  local ok, _, words = pcall(lex.process, line, {},
    { raw_quotes = true, raw_escapes = true, skip_unset = true })
  local docs = {}
  if not ok then return docs end
  for _, w in ipairs(words) do
    local h = parse_heredoc(w)
    if h then docs[#docs + 1] = h end
  end
  return docs
end

function Parser:flags(node)
  local spec = FLAGS[node.cmd] or {}
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  table.sort(names)
  local flags = {}
  for _, a in ipairs(node.raw_flags) do
    if a == "--" then break end
    local name, eq, value = a:match("^%-%-([^=]*)(=?)(.*)$")
    local kind = spec[name]
    if not kind then
      local msg = "unknown flag: --" .. name
      local s = suggest(name, names, true)
      if s then msg = msg .. " (did you mean " .. s .. "?)" end
      self:fail(node.line, msg)
    end
    if flags[name] ~= nil and kind ~= "strings" then
      self:fail(node.line, "duplicate flag specified: --" .. name)
    end
    if UNSUPPORTED[node.cmd] and UNSUPPORTED[node.cmd][name] then
      self:fail(node.line, node.cmd .. " --" .. name .. " is not supported by bocker")
    end
    if kind == "bool" then
      if eq == "=" and value == "" then self:fail(node.line, "missing a value on flag: --" .. name) end
      local v = value:lower()
      if v == "" or v == "true" then flags[name] = true
      elseif v == "false" then flags[name] = false
      else self:fail(node.line, "expecting boolean value for flag --" .. name .. ", not: " .. value) end
    elseif eq ~= "=" then
      self:fail(node.line, "missing a value on flag: --" .. name)
    elseif kind == "strings" then
      flags[name] = flags[name] or {}
      table.insert(flags[name], value)
    else
      flags[name] = value
    end
  end
  node.flags = flags
end

-- Docker's per-instruction rules (BuildKit's instructions package) and the derived fields.
function Parser:finish(node)
  local c, args, line = node.cmd, node.args, node.line
  local function fail(msg) self:fail(line, msg) end
  if not KNOWN[c] then
    local msg = "unknown instruction: " .. node.written
    local s = suggest(node.written, NAMES, false)
    if s then msg = msg .. " (did you mean " .. s .. "?)" end
    fail(msg)
  end
  self:flags(node)
  local function at_least_one() if #args == 0 then fail(c .. " requires at least one argument") end end
  local function exactly_one() if #args ~= 1 then fail(c .. " requires exactly one argument") end end
  if c == "ENV" or c == "LABEL" then
    at_least_one()
    for _, p in ipairs(node.pairs) do
      if p.key == "" then fail(c .. " names can not be blank") end
    end
  elseif c == "MAINTAINER" then
    exactly_one()
    node.author = args[1]
  elseif c == "ADD" or c == "COPY" then
    if #args < 2 then
      fail(c .. " requires at least two arguments, but only one was provided. Destination could not be determined")
    end
    node.dest = args[#args]
    if parse_heredoc(node.dest) then fail(c .. " cannot accept a heredoc as a destination") end
    local docs = {}
    for _, h in ipairs(node.heredocs or {}) do docs[h.name] = h end
    node.sources = {}
    for i = 1, #args - 1 do
      local h = parse_heredoc(args[i])
      if h then
        local doc = docs[h.name] or { body = "" }
        node.sources[i] = { heredoc = h.name, data = doc.body, expand = h.expand }
      else
        node.sources[i] = { path = args[i] }
      end
    end
  elseif c == "FROM" then
    if #args == 3 and args[2]:lower() == "as" then
      node.name = args[3]:lower()
      if not node.name:match("^[a-z][a-z0-9%-_.]*$") then
        fail(string.format("invalid name for build stage: %q, name can't start with a number or contain symbols", args[3]))
      end
    elseif #args ~= 1 then
      fail("FROM requires either one or three arguments")
    end
    node.image = args[1]
  elseif c == "ONBUILD" then
    local t = node.trigger
    if not t then fail("ONBUILD requires at least one argument") end
    if t.cmd == "ONBUILD" then fail("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed") end
    if t.cmd == "MAINTAINER" or t.cmd == "FROM" then fail(t.cmd .. " isn't allowed as an ONBUILD trigger") end
    t.heredocs = node.heredocs
    self:finish(t)
    local expr = { (node.original:gsub("^%s*[Oo][Nn][Bb][Uu][Ii][Ll][Dd]%s*", "")) }
    for _, h in ipairs(node.heredocs or {}) do expr[#expr + 1] = "\n" .. h.raw .. h.name end
    node.args = { table.concat(expr) }
  elseif c == "WORKDIR" or c == "USER" or c == "STOPSIGNAL" then
    exactly_one()
  elseif c == "RUN" then
    at_least_one()
    local net = node.flags.network
    if net and not NETWORKS[net] then fail(string.format("invalid network mode %q", net)) end
  elseif c == "HEALTHCHECK" then
    at_least_one()
    local typ = args[1]:upper()
    local rest = { table.unpack(args, 2) }
    if typ == "NONE" then
      if #rest ~= 0 then fail("HEALTHCHECK NONE takes no arguments") end
      node.health = { test = { "NONE" } }
    elseif typ == "CMD" then
      if #rest == 0 then fail("Missing command after HEALTHCHECK CMD") end
      local test = { node.json and "CMD" or "CMD-SHELL" }
      if node.json then
        for _, a in ipairs(rest) do test[#test + 1] = a end
      else
        test[2] = table.concat(rest, " ")
      end
      local h = { test = test, retries = 0 }
      for flag, key in pairs { interval = "interval", timeout = "timeout", ["start-period"] = "start_period",
        ["start-interval"] = "start_interval" } do
        local v = node.flags[flag]
        if v and v ~= "" then
          local ok, d = pcall(go_duration, v)
          if not ok then fail(d) end
          if d ~= 0 and d < 1e6 then fail(string.format("Interval %q cannot be less than 1ms", flag)) end
          h[key] = d
        else
          h[key] = 0
        end
      end
      local r = node.flags.retries
      if r and r ~= "" then
        local n = r:match("^[+-]?%d+$") and tonumber(r)
        if not n then fail(string.format('strconv.ParseInt: parsing %q: invalid syntax', r)) end
        if n < 0 then fail("--retries cannot be negative (" .. n .. ")") end
        h.retries = n
      end
      node.health = h
    else
      fail(string.format("Unknown type %q in HEALTHCHECK (try CMD)", typ))
    end
  elseif c == "EXPOSE" then
    at_least_one()
  elseif c == "VOLUME" then
    at_least_one()
    for i, v in ipairs(args) do
      args[i] = trim(v)
      if args[i] == "" then fail("VOLUME specified can not be an empty string") end
    end
  elseif c == "ARG" then
    at_least_one()
    node.pairs = {}
    for _, a in ipairs(args) do
      local k, v = a:match("^(.-)=(.*)$")
      if k == "" then fail("ARG names can not be blank") end
      node.pairs[#node.pairs + 1] = { key = k or a, value = v }
    end
  elseif c == "SHELL" then
    if #args == 0 then fail("SHELL requires at least one argument") end
    if not node.json then fail("SHELL requires the arguments to be in JSON form") end
  end
  node.raw_flags, node.rest, node.written = nil, nil, nil
  return node
end

-- Parser directives: `# escape=`` ` and `# syntax=` (ignored), before anything else.
local DIRECTIVES = { escape = true, syntax = true, check = true }
function Parser:directive(line, lineno)
  if self.directives_done then return end
  local body = line:match("^#(.*)$")
  local k, v
  if body then k, v = body:gsub("^%s+", ""):match("^(%a%w*)%s*=%s*(.-)%s*$") end
  if not k or v == "" or not DIRECTIVES[k:lower()] then self.directives_done = true; return end
  k = k:lower()
  if self.seen[k] then self:fail(lineno, "only one " .. k .. " parser directive can be used") end
  self.seen[k] = true
  if k == "escape" then
    if v ~= "`" and v ~= "\\" then self:fail(lineno, "invalid escape token '" .. v .. "' does not match ` or \\") end
    self.escape = v
  end
end

-- The escape token at the end of a line (not itself escaped) continues the instruction.
function Parser:continuation(line)
  local s = line:gsub("[ \t]+$", "")
  if s:sub(-1) == self.escape and (#s == 1 or s:sub(-2, -2) ~= self.escape) then
    return s:sub(1, -2), false
  end
  return line, true
end

--- Parses a Dockerfile's text. `name` (default "Dockerfile") prefixes error messages.
function dockerfile.parse(text, name)
  local self = setmetatable({ name = name or "Dockerfile", escape = "\\", seen = {} }, Parser)
  local lines = {}
  for l in text:gmatch("[^\n]*\n?") do if l ~= "" then lines[#lines + 1] = l end end
  if lines[1] then lines[1] = lines[1]:gsub("^\239\187\191", "") end
  local out, warnings, i = {}, {}, 1
  while i <= #lines do
    local first = trim_nl(lines[i]):gsub("^%s+", "")
    self:directive(first, i)
    if first:sub(1, 1) == "#" then first = "" end
    local start = i
    i = i + 1
    local text1, eol = self:continuation(first)
    if not (eol and text1 == "") then
      local parts, empty_continuation = { text1 }, false
      while not eol and i <= #lines do
        local r = trim_nl(lines[i])
        i = i + 1
        if r:match("^%s*$") then
          empty_continuation = true
        elseif not r:match("^%s*#") then
          parts[#parts + 1], eol = self:continuation(r)
        end
      end
      local node = self:node(table.concat(parts), start, i - 1)
      if empty_continuation then
        warnings[#warnings + 1] = self.name .. ":" .. start .. ": empty continuation line (Docker will make this an error)"
      end
      if can_have_heredocs(node) and node.original:find("<<", 1, true) then
        local ok, docs = pcall(heredocs_in, node.original)
        if not ok then self:fail(start, docs) end
        for _, h in ipairs(docs) do
          local body, done = {}, false
          while i <= #lines do
            local raw = lines[i]
            i = i + 1
            local term = trim_nl(raw)
            if h.chomp then term = term:gsub("^\t+", "") end
            if term == h.name then done = true; break end
            body[#body + 1] = raw
          end
          if not done then self:fail(start, "unterminated heredoc") end
          h.raw = table.concat(body)
          h.body = h.chomp and h.raw:gsub("^\t+", ""):gsub("\n\t+", "\n") or h.raw
          node.heredocs = node.heredocs or {}
          node.heredocs[#node.heredocs + 1] = h
        end
        node.end_line = i - 1
      end
      out[#out + 1] = self:finish(node)
    end
  end
  local seen_from = false
  for _, ins in ipairs(out) do
    if ins.cmd == "FROM" then seen_from = true; break end
    if ins.cmd ~= "ARG" then self:fail(ins.line, "no build stage in current context") end
  end
  if not seen_from then error(self.name .. ": no build stage in current context", 0) end
  return { escape = self.escape, instructions = out, warnings = warnings }
end

--- Docker's variable substitution of one word (quotes removed, not split). Returns the text
--- and the set of variable names it used. opts: escape, skip_unset, skip_quotes.
function dockerfile.expand(word, vars, opts)
  local result, _, used = lex.process(word, vars, opts)
  return result, used
end

--- Docker's word splitting after substitution (ENV/LABEL values, EXPOSE, VOLUME, paths).
function dockerfile.words(str, vars, opts)
  local _, words, used = lex.process(str, vars, opts)
  return words, used
end

--- For a shell-form RUN with heredocs, what to hand to the shell, as BuildKit does: the
--- heredoc's body for `RUN <<EOF`, else the line with each heredoc appended. The second result
--- is { name, data } when the single heredoc starts with #! (to be run as an executable file).
function dockerfile.shell_command(ins)
  if ins.json or not ins.heredocs then return ins.args[1] end
  local h = ins.heredocs[1]
  if parse_heredoc(ins.args[1]) then
    if h.body:sub(1, 2) == "#!" then return nil, { name = h.name, data = h.body } end
    return h.body
  end
  local b = { ins.args[1] }
  for _, d in ipairs(ins.heredocs) do b[#b + 1] = "\n" .. d.raw .. d.name end
  return table.concat(b)
end

local stages = require "bocker.dockerfile.stages"
dockerfile.stages, dockerfile.find_stage = stages.stages, stages.find_stage

return dockerfile
