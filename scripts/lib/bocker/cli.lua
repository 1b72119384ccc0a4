-- bocker.cli: what command scripts share: option parsing, failing with a clear line,
-- size and time formats, and tables. Pure Lua over the bocker API.
local cli = {}

--- Raises a one-line error for a bad command line (exit status: the command's error_status,
--- or `status` when given).
function cli.fail(message, status)
  error(bocker.error("invalid_argument", message, status), 0)
end

--- Parses options at the front of args, stopping at the first argument that is not an option
--- (or after "--"). spec maps each spelling to {name=, kind="flag"|"value"|"list"}:
---   { ["-d"] = {name="detach", kind="flag"}, ["--name"] = {name="name", kind="value"} }
--- Accepts "--opt=value", "--opt value", "-o value", "-ovalue" and bundled short flags ("-it").
--- Returns the options table and the remaining arguments. With `anywhere`, options may also
--- follow positional arguments (`network create NAME --subnet X`), as Docker allows for
--- commands that take no command line of their own.
function cli.parse(args, spec, command, anywhere)
  local opts, i = {}, 1
  local positional = {}
  local function set(def, spelling, value)
    if def.kind == "flag" then
      if value ~= nil and value ~= "true" and value ~= "false" then
        cli.fail(("invalid value '%s' for %s: expected true or false"):format(value, spelling))
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
    local name, value = a:match("^(%-%-[^=]+)=(.*)$")
    name = name or a
    local def = spec[name]
    if not def and not a:match("^%-%-") and #a > 2 then
      -- "-it" (bundled flags) or "-m64m" (value glued to a short option)
      local first = spec[a:sub(1, 2)]
      if first and first.kind ~= "flag" then
        def, name, value = first, a:sub(1, 2), a:sub(3)
      else
        for k = 2, #a do
          local d = spec["-" .. a:sub(k, k)]
          if not d or d.kind ~= "flag" then
            cli.fail(("unknown flag: %s%s"):format(a, command and (" (see 'bocker help " .. command .. "')") or ""))
          end
          set(d, "-" .. a:sub(k, k))
        end
        i = i + 1
        goto continue
      end
    end
    if not def then
      cli.fail(("unknown flag: %s%s"):format(name, command and (" (see 'bocker help " .. command .. "')") or ""))
    end
    if def.kind ~= "flag" and value == nil then
      i = i + 1
      value = args[i]
      if value == nil then cli.fail(("flag needs an argument: %s"):format(name)) end
    end
    set(def, name, value)
    i = i + 1
    ::continue::
  end
  local rest = positional
  for k = i, #args do rest[#rest + 1] = args[k] end
  return opts, rest
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
function cli.duration(seconds)
  local s = math.floor(seconds + 0.5)
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

function cli.ago(t)
  return cli.duration(bocker.now() - t) .. " ago"
end

--- Docker's status column for a container.
function cli.status(c)
  local st = c.status
  if st == "running" then
    return "Up " .. cli.duration(bocker.now() - (c.started_at or c.created))
  elseif st == "exited" then
    local when = c.finished_at and (" " .. cli.ago(c.finished_at)) or ""
    return ("Exited (%d)%s"):format(c.exit_code or 0, when)
  elseif st == "created" then
    return "Created"
  end
  return st:sub(1, 1):upper() .. st:sub(2)
end

--- Prints rows (lists of strings) under headers, columns padded to fit, three spaces apart.
function cli.table(headers, rows)
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
  io.write(table.concat(out, "\n"), "\n")
end

--- Shows a command as one string, single-quoting arguments that need it (sh -c 'exit 3').
function cli.join(argv)
  local parts = {}
  for i, a in ipairs(argv) do
    if a == "" or a:find("[%s'\"\\$`;&|<>()*?~#{}%[%]]") then
      parts[i] = "'" .. a:gsub("'", "'\\''") .. "'"
    else
      parts[i] = a
    end
  end
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
