-- bocker.cli: what command scripts share: option parsing, failing with a clear line,
-- size and time formats, and tables. Pure Lua over the bocker API.
local cli = {}

--- Raises a one-line error for a bad command line (exit status: the command's error_status,
--- or `status` when given).
function cli.fail(message, status)
  error(bocker.error("invalid_argument", message, status), 0)
end

--- Parses options at the front of args, stopping at the first argument that is not an option
--- (or after "--"). spec maps each spelling to {name=, kind="flag"|"value"|"list", help=, arg=}:
---   { ["-d"] = {name="detach", kind="flag", help="run in the background"},
---     ["--name"] = {name="name", kind="value", arg="NAME", help="name the container"} }
--- `help` and `arg` (the value's placeholder) are what `--help` shows: the Options text is
--- generated from this same table (cli.options_text), so help and behaviour cannot drift.
--- Accepts "--opt=value", "--opt value", "-o value", "-ovalue" and bundled short flags ("-it",
--- "-dit", "-dp 80:80"). "--help" (and "-h" unless the command gives it a meaning, as run's
--- hostname) prints the command's help and ends it with status 0. Returns the options table
--- and the remaining arguments. With `anywhere`, options may also follow positional
--- arguments (`network create NAME --subnet X`), as Docker allows for commands that take no
--- command line of their own. `command` is the command's name ("ps", "network ls") or a
--- table {name=, usage=} for a subcommand. A bad command line exits 125, as Docker's does.
function cli.parse(args, spec, command, anywhere)
  local opts, i = {}, 1
  local positional = {}
  local cname = type(command) == "table" and command.name or command
  local function bad(fmt, what)
    cli.fail(fmt:format(what) .. (cname and (" (see 'bocker help " .. cname:match("^%S+") .. "')") or ""), 125)
  end
  local function set(def, spelling, value)
    if def.kind == "flag" then
      if value ~= nil and value ~= "true" and value ~= "false" then
        cli.fail(("invalid value '%s' for %s: expected true or false"):format(value, spelling), 125)
      end
      opts[def.name] = value ~= "false"
    elseif def.kind == "list" then
      opts[def.name] = opts[def.name] or {}
      table.insert(opts[def.name], value)
    else
      opts[def.name] = value
      opts[def.name .. "_spelling"] = spelling
    end
  end
  while i <= #args do
    local a = args[i]
    if a == "--" then i = i + 1; break end
    if a:sub(1, 1) ~= "-" or a == "-" then
      if not anywhere then break end
      positional[#positional + 1] = a
      i = i + 1
      goto continue
    end
    if (a == "--help" and not spec["--help"]) or (a == "-h" and not spec["-h"]) then
      cli.print_help(command, spec)
      error(bocker.error("help", "", 0), 0)
    end
    local name, value = a:match("^(%-%-[^=]+)=(.*)$")
    name = name or a
    local def = spec[name]
    if not def and not a:match("^%-%-") and #a > 2 then
      -- "-it" (bundled flags), "-m64m" (value glued to a short option), "-dp 80:80" (flags
      -- then one option taking a value: the rest of the word, or the next argument)
      for k = 2, #a do
        local d = spec["-" .. a:sub(k, k)]
        if not d then bad("unknown flag: %s", a) end
        if d.kind ~= "flag" then
          def, name = d, "-" .. a:sub(k, k)
          value = k < #a and a:sub(k + 1) or nil
          break
        end
        set(d, "-" .. a:sub(k, k))
      end
      if not def then i = i + 1; goto continue end
    end
    if not def then bad("unknown flag: %s", name) end
    if def.kind ~= "flag" and value == nil then
      i = i + 1
      value = args[i]
      if value == nil then bad("flag needs an argument: %s", name) end
    end
    set(def, name, value)
    i = i + 1
    ::continue::
  end
  local rest = positional
  for k = i, #args do rest[#rest + 1] = args[k] end
  return opts, rest
end

--- The "Options:" text for a parser table: one line per option (its spellings together,
--- short first, the value's placeholder, its help), sorted by long name as Docker's, and
--- -h/--help. Every spelling the parser accepts is shown.
function cli.options_text(spec)
  local groups, order = {}, {}
  for spelling, def in pairs(spec) do
    local g = groups[def.name]
    if not g then
      g = { spellings = {}, kind = def.kind }
      groups[def.name] = g
      order[#order + 1] = def.name
    end
    g.spellings[#g.spellings + 1] = spelling
    g.help = g.help or def.help
    g.arg = g.arg or def.arg
  end
  if not spec["--help"] then
    groups["\0help"] = { spellings = spec["-h"] and { "--help" } or { "-h", "--help" }, kind = "flag", help = "print this help" }
    order[#order + 1] = "\0help"
  end
  local rows = {}
  for _, key in ipairs(order) do
    local g = groups[key]
    table.sort(g.spellings, function(x, y)
      local sx, sy = not x:match("^%-%-"), not y:match("^%-%-")
      if sx ~= sy then return sx end
      return x < y
    end)
    local left = table.concat(g.spellings, ", ")
    if not g.spellings[1]:match("^%-%-") then left = "  " .. left else left = "      " .. left end
    if g.kind ~= "flag" then left = left .. " " .. (g.arg or (key:upper():gsub("^%z", ""))) end
    local long = g.spellings[#g.spellings]:gsub("^%-+", "")
    rows[#rows + 1] = { sort = long, left = left, help = g.help or "" }
  end
  table.sort(rows, function(x, y) return x.sort < y.sort end)
  local width = 0
  for _, r in ipairs(rows) do if #r.left <= 34 then width = math.max(width, #r.left) end end
  local out = { "Options:" }
  for _, r in ipairs(rows) do
    local pad = #r.left < width and string.rep(" ", width - #r.left) or ""
    local help = r.help:gsub("\n", "\n" .. string.rep(" ", width + 3))
    out[#out + 1] = (r.left .. pad .. "   " .. help):gsub("%s+$", "")
  end
  return table.concat(out, "\n")
end

--- Prints a command's help: usage, summary, the Options generated from its parser table,
--- then its prose notes. `command` is a name ("run") or {name=, usage=, help=} for a
--- subcommand; spec defaults to the command's `options`.
function cli.print_help(command, spec)
  local name = type(command) == "table" and command.name or command or "?"
  local cmd = {}
  if type(command) == "table" then cmd = command
  else
    local ok, loaded = pcall(bocker.load_command, name)
    if ok and type(loaded) == "table" then cmd = loaded end
  end
  spec = spec or cmd.options or {}
  io.write("Usage: ", cmd.usage or ("bocker " .. name), "\n")
  if cmd.summary then io.write("\n", cmd.summary, "\n") end
  io.write("\n", cli.options_text(spec), "\n")
  if cmd.help then io.write("\n", cmd.help, "\n") end
end

--- A whole number from text, or a clear error naming the option.
function cli.integer(text, option, min, max)
  local n = tonumber(text)
  if text == nil or text == "" or not n or n ~= math.floor(n) or (math.type(n) == "float" and math.abs(n) >= 2^53) then
    cli.fail(("invalid value '%s' for %s: expected a whole number"):format(tostring(text or ""), option))
  end
  n = math.tointeger(n)
  if (min and n < min) or (max and n > max) then
    cli.fail(("invalid value '%s' for %s: must be between %s and %s"):format(text, option, min or "-inf", max or "inf"))
  end
  return n
end

--- Bytes from Docker's size form: 512, 512b, 64k, 64m, 2g (binary units, as Docker).
function cli.bytes(text, option)
  local num, unit = tostring(text or ""):lower():match("^(%d+%.?%d*)([bkmg]?)b?$")
  local n = tonumber(num)
  if not n then
    cli.fail(("invalid value '%s' for %s: expected a size such as 64m or 1g"):format(tostring(text or ""), option))
  end
  local mult = ({ [""] = 1, b = 1, k = 1024, m = 1024 ^ 2, g = 1024 ^ 3 })[unit]
  local v = n * mult
  if v >= 2 ^ 62 then cli.fail(("invalid value '%s' for %s: too large"):format(text, option)) end
  return math.floor(v)
end

--- Docker's human duration: "Less than a second", "3 seconds", "About a minute", "5 hours".
local function duration_text(s)
  local function plural(n, unit) return ("%d %s%s"):format(n, unit, n == 1 and "" or "s") end
  if s < 1 then return "Less than a second"
  elseif s == 1 then return "1 second"
  elseif s < 60 then return plural(s, "second")
  end
  local m = math.floor(s / 60 + 0.5)
  if m == 1 then return "About a minute"
  elseif m < 60 then return plural(m, "minute")
  end
  local h = math.floor(s / 3600 + 0.5)
  if h == 1 then return "About an hour"
  elseif h < 48 then return plural(h, "hour")
  elseif h < 24 * 7 * 2 then return plural(math.floor(h / 24), "day")
  elseif h < 24 * 30 * 2 then return plural(math.floor(h / 24 / 7), "week")
  elseif h < 24 * 365 * 2 then return plural(math.floor(h / 24 / 30), "month")
  end
  return plural(math.floor(h / 24 / 365), "year")
end

-- The texts made so far, by whole second (ps asks the same few a thousand times); bounded.
local durations, durations_count = {}, 0

function cli.duration(seconds)
  local s = math.floor(seconds + 0.5)
  local text = durations[s]
  if text then return text end
  text = duration_text(s)
  if math.type(s) == "integer" then
    if durations_count >= 4096 then durations, durations_count = {}, 0 end
    durations[s], durations_count = text, durations_count + 1
  end
  return text
end

local agos = {}   -- "3 minutes" → "3 minutes ago" (as few as the texts of cli.duration)

--- "3 minutes ago"; `now` (bocker.now()) may be given by a caller that asks many times.
function cli.ago(t, now)
  local d = cli.duration((now or bocker.now()) - t)
  local text = agos[d]
  if not text then
    text = d .. " ago"
    agos[d] = text
  end
  return text
end

--- Docker's status column for a container.
function cli.status(c, now)
  local st = c.status
  if st == "running" then
    return "Up " .. cli.duration((now or bocker.now()) - (c.started_at or c.created)) .. (c.paused and " (Paused)" or "")
  elseif st == "exited" then
    local when = c.finished_at and (" " .. cli.ago(c.finished_at, now)) or ""
    return ("Exited (%d)%s"):format(c.exit_code or 0, when)
  elseif st == "created" then
    return "Created"
  end
  return st:sub(1, 1):upper() .. st:sub(2)
end

--- Docker's Status field (`ps --format '{{.Status}}'`): cli.status with the health of a running
--- container that has a healthcheck: "Up 5 seconds (healthy)", "(health: starting)",
--- "(unhealthy)". The seed's default `ps` table keeps cli.status.
function cli.docker_status(c, now)
  local s = cli.status(c, now)
  local h = c.status == "running" and c.health
  if h == "starting" then return s .. " (health: starting)" end
  if h then return s .. " (" .. h .. ")" end
  return s
end

-- The generic cli.table: any cells (tostring'd), any widths.
local function table_lines(headers, rows)
  local widths = {}
  for i, h in ipairs(headers) do widths[i] = #h end
  for _, r in ipairs(rows) do
    for i, v in ipairs(r) do widths[i] = math.max(widths[i] or 0, #tostring(v)) end
  end
  local out = {}
  local function line(r)
    local cells = {}
    for i, v in ipairs(r) do
      cells[i] = i < #r and (tostring(v) .. string.rep(" ", widths[i] - #tostring(v))) or tostring(v)
    end
    out[#out + 1] = table.concat(cells, "   ")
  end
  line(headers)
  for _, r in ipairs(rows) do line(r) end
  return out
end

--- Prints rows (lists of strings) under headers, columns padded to fit, three spaces apart.
function cli.table(headers, rows)
  -- Strings and numbers (a thousand rows of ps) in one call; any other cell here.
  local ok, text = pcall(bocker.text.columns, headers, rows)
  if ok then io.write(text) return end
  io.write(table.concat(table_lines(headers, rows), "\n"), "\n")
end

-- Arguments as join shows them, made once each (ps joins the same few commands a thousand
-- times); bounded.
local quoted, quoted_count = {}, 0
local function quote(a)
  local q = quoted[a]
  if q then return q end
  if a == "" or a:find("[%s'\"\\$`;&|<>()*?~#{}%[%]]") then
    q = "'" .. a:gsub("'", "'\\''") .. "'"
  else
    q = a
  end
  if quoted_count >= 4096 then quoted, quoted_count = {}, 0 end
  quoted[a], quoted_count = q, quoted_count + 1
  return q
end

--- Shows a command as one string, single-quoting arguments that need it (sh -c 'exit 3').
function cli.join(argv)
  if #argv == 1 then return quote(argv[1]) end
  local parts = {}
  for i, a in ipairs(argv) do parts[i] = quote(a) end
  return table.concat(parts, " ")
end

--- Writes an error line for one of several targets and keeps going (rm a b c).
function cli.warn(err)
  io.stderr:write(type(err) == "table" and err.message or tostring(err), "\n")
end

--- Runs fn(item) for each item: prints what it returns (or the item itself when it returns
--- nil), a one-line error for each failure, and goes on. Returns the exit status: 1 if any
--- failed. The shape of `rm a b c`, `stop a b`, `network rm x y`.
function cli.each(items, fn)
  local failed = 0
  for _, item in ipairs(items) do
    local ok, result = pcall(fn, item)
    if ok then print(result == nil and item or result) else cli.warn(result); failed = failed + 1 end
  end
  return failed > 0 and 1 or 0
end

--- KEY=VALUE lines of an env file ('#' comments and blank lines skipped; KEY alone takes this
--- shell's value, as Docker). Returns the list, or nil and the error.
-- "1.5MB": Docker's sizes (powers of 1000).
function cli.human(n)
  local units, i = { "B", "kB", "MB", "GB" }, 1
  while n >= 1000 and i < #units do n = n / 1000; i = i + 1 end
  return (i == 1 and "%d%s" or "%.4g%s"):format(n, units[i])
end

-- A progress function for pull and push events ({layer, status, current, total}): Docker's
-- one line per layer, redrawn in place on a terminal; plain lines (each status change once)
-- when the output is not a terminal. nil when quiet.
function cli.progress(quiet)
  if quiet then return nil end
  local tty = bocker.isatty(1)
  local order, state = {}, {}
  local drawn = 0
  local function line(id)
    local s = state[id]
    if (s.status == "Downloading" or s.status == "Pushing") and s.total > 0 then
      local width = 40
      local filled = math.floor(width * s.current / s.total)
      local bar = string.rep("=", math.max(filled - 1, 0)) .. (filled > 0 and ">" or "") .. string.rep(" ", width - filled)
      return ("%s: %s [%s] %s/%s"):format(id, s.status, bar, cli.human(s.current), cli.human(s.total))
    end
    return ("%s: %s"):format(id, s.status)
  end
  return function(ev)
    if not state[ev.layer] then order[#order + 1] = ev.layer end
    local old = state[ev.layer]
    state[ev.layer] = ev
    if tty then
      if drawn > 0 then io.write(("\27[%dA"):format(drawn)) end
      for _, id in ipairs(order) do io.write("\27[2K", line(id), "\n") end
      drawn = #order
      io.flush()
    elseif not old or old.status ~= ev.status then
      print(line(ev.layer))
    end
  end
end

function cli.read_env_file(path)
  local f, err = io.open(path, "r")
  if not f then return nil, err end
  local out = {}
  for line in f:lines() do
    line = line:gsub("^%s+", ""):gsub("%s+$", "")
    if line ~= "" and line:sub(1, 1) ~= "#" then
      if line:find("=", 1, true) then out[#out + 1] = line
      elseif os.getenv(line) then out[#out + 1] = line .. "=" .. os.getenv(line) end
    end
  end
  f:close()
  return out
end

return cli
