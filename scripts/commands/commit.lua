-- bocker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]: save a container's changes as an image.
local cli = require "bocker.cli"

local options = {
  ["-a"] = { name = "author", kind = "value", arg = "AUTHOR", help = "the image's author (\"Name <email>\")" },
  ["--author"] = { name = "author", kind = "value" },
  ["-m"] = { name = "message", kind = "value", arg = "MESSAGE", help = "the commit message (the history entry's comment)" },
  ["--message"] = { name = "message", kind = "value" },
  ["-c"] = { name = "change", kind = "list", arg = "INSTRUCTION", help = "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV,\nEXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, HEALTHCHECK" },
  ["--change"] = { name = "change", kind = "list" },
  ["-p"] = { name = "pause", kind = "flag", help = "freeze a running container while its files are read (default true;\n--pause=false leaves it running)" },
  ["--pause"] = { name = "pause", kind = "flag" },
}

-- ---------------------------------------------------------------------------------------
-- --change: one Dockerfile instruction per line (a backslash at a line's end continues it).

local valid = { CMD = true, ENTRYPOINT = true, ENV = true, EXPOSE = true, LABEL = true, USER = true,
  WORKDIR = true, VOLUME = true, STOPSIGNAL = true, HEALTHCHECK = true }

local function bad(fmt, ...) cli.fail(fmt:format(...)) end

-- A JSON array of strings (the exec form), or nil when text is not one.
local function json_strings(text)
  text = text:match("^%s*(.-)%s*$")
  if text:sub(1, 1) ~= "[" or text:sub(-1) ~= "]" then return nil end
  local out, i = {}, 2
  local function skip() i = text:find("[^%s]", i) or #text + 1 end
  skip()
  if text:sub(i, i) == "]" then return i == #text and out or nil end
  while true do
    if text:sub(i, i) ~= '"' then return nil end
    i = i + 1
    local buf = {}
    while true do
      local c = text:sub(i, i)
      if c == "" then return nil end
      if c == '"' then i = i + 1; break end
      if c == "\\" then
        local n = text:sub(i + 1, i + 1)
        local map = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
        if map[n] then buf[#buf + 1] = map[n]; i = i + 2
        elseif n == "u" and text:sub(i + 2, i + 5):match("^%x%x%x%x$") then
          buf[#buf + 1] = utf8.char(tonumber(text:sub(i + 2, i + 5), 16)); i = i + 6
        else return nil end
      else
        buf[#buf + 1] = c; i = i + 1
      end
    end
    out[#out + 1] = table.concat(buf)
    skip()
    local c = text:sub(i, i)
    i = i + 1
    if c == "]" then return i > #text and out or nil end
    if c ~= "," then return nil end
    skip()
  end
end

-- Words with quotes, backslash escapes and $VAR / ${VAR} expansion from env (a name → value
-- table), as the Dockerfile's ENV, LABEL, EXPOSE, USER, WORKDIR, VOLUME and STOPSIGNAL take them.
local function words(text, env)
  local out, buf, in_word, i, quote = {}, {}, false, 1, nil
  local function flush()
    if in_word then out[#out + 1] = table.concat(buf) end
    buf, in_word = {}, false
  end
  while i <= #text do
    local c = text:sub(i, i)
    if quote == "'" then
      if c == "'" then quote = nil else buf[#buf + 1] = c end
      i = i + 1
    elseif c == "\\" and i < #text and quote ~= "'" then
      buf[#buf + 1] = text:sub(i + 1, i + 1); in_word = true; i = i + 2
    elseif c == "$" and quote ~= "'" then
      local name, stop = text:match("^{([%a_][%w_]*)}()", i + 1)
      if not name then name, stop = text:match("^([%a_][%w_]*)()", i + 1) end
      if name then buf[#buf + 1] = env[name] or ""; i = stop
      else buf[#buf + 1] = c; i = i + 1 end
      in_word = true
    elseif c == '"' then
      if quote then quote = nil else quote = '"' end
      in_word = true; i = i + 1
    elseif c == "'" and not quote then
      quote = "'"; in_word = true; i = i + 1
    elseif c:match("%s") and not quote then
      flush(); i = i + 1
    else
      buf[#buf + 1] = c; in_word = true; i = i + 1
    end
  end
  if quote then bad("unterminated %s quote in '%s'", quote, text) end
  flush()
  return out
end

-- KEY=VALUE pairs (or the legacy "KEY VALUE" form with one pair).
local function pairs_of(instr, rest, env)
  local ws = words(rest, env)
  if #ws == 0 then bad("%s needs at least one argument", instr) end
  if not ws[1]:find("=", 1, true) then
    local key, value = rest:match("^%s*(%S+)%s+(.-)%s*$")
    if not key then bad("%s names '%s' without a value (use KEY=VALUE)", instr, ws[1]) end
    return { { key, table.concat(words(value, env), " ") } }
  end
  local out = {}
  for _, w in ipairs(ws) do
    local k, v = w:match("^([^=]+)=(.*)$")
    if not k then bad("%s: '%s' is not KEY=VALUE", instr, w) end
    out[#out + 1] = { k, v }
  end
  return out
end

local function command_form(rest)
  return json_strings(rest) or { "/bin/sh", "-c", rest }
end

-- HEALTHCHECK [--interval=D] [--timeout=D] [--start-period=D] [--start-interval=D] [--retries=N]
-- CMD command | NONE
local function healthcheck(rest)
  local hc = {}
  local names = { interval = "interval", timeout = "timeout", ["start-period"] = "start_period",
    ["start-interval"] = "start_interval", retries = "retries" }
  while true do
    local flag, value, after = rest:match("^%s*%-%-([%w-]+)=(%S*)%s*()")
    if not flag then break end
    local key = names[flag]
    if not key then bad("HEALTHCHECK: unknown flag --%s", flag) end
    if key == "retries" then
      hc.retries = cli.integer(value, "--retries", 0)
    else
      hc[key] = value
    end
    rest = rest:sub(after)
  end
  local kind, cmd = rest:match("^%s*(%S+)%s*(.-)%s*$")
  kind = kind and kind:upper()
  if kind == "NONE" then
    if cmd ~= "" or next(hc) then bad("HEALTHCHECK NONE takes no arguments or flags") end
    return { test = { "NONE" } }
  end
  if kind ~= "CMD" or cmd == "" then bad("HEALTHCHECK needs CMD and a command, or NONE") end
  local argv = json_strings(cmd)
  if argv then
    hc.test = { "CMD", table.unpack(argv) }
  else
    hc.test = { "CMD-SHELL", cmd }
  end
  return hc
end

-- The instructions of every -c value as one `changes` table; env: the image's variables
-- (for $VAR in ENV and the others).
local function parse_changes(list, image_env)
  local env = {}
  for _, kv in ipairs(image_env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then env[k] = v end
  end
  local ch = {}
  local function add(key, v)
    ch[key] = ch[key] or {}
    table.insert(ch[key], v)
  end
  for _, text in ipairs(list) do
    text = text:gsub("\\\r?\n", "")
    for line in text:gmatch("[^\n]+") do
      local instr, rest = line:match("^%s*(%S+)%s*(.-)%s*$")
      if instr and not instr:match("^#") then
        local up = instr:upper()
        if not valid[up] then bad("%s is not a valid change command", instr:lower()) end
        if up == "CMD" then ch.cmd = command_form(rest)
        elseif up == "ENTRYPOINT" then ch.entrypoint = command_form(rest)
        elseif up == "ENV" then
          for _, kv in ipairs(pairs_of(up, rest, env)) do
            env[kv[1]] = kv[2]
            add("env", kv[1] .. "=" .. kv[2])
          end
        elseif up == "LABEL" then
          ch.labels = ch.labels or {}
          for _, kv in ipairs(pairs_of(up, rest, env)) do ch.labels[kv[1]] = kv[2] end
        elseif up == "EXPOSE" then
          local ws = words(rest, env)
          if #ws == 0 then bad("EXPOSE needs at least one port") end
          for _, p in ipairs(ws) do add("exposed_ports", p) end
        elseif up == "HEALTHCHECK" then ch.healthcheck = healthcheck(rest)
        elseif up == "VOLUME" then
          local ws = json_strings(rest) or words(rest, env)
          if #ws == 0 then bad("VOLUME needs at least one path") end
          for _, p in ipairs(ws) do add("volumes", p) end
        else
          local ws = words(rest, env)
          if #ws ~= 1 then bad("%s takes exactly one argument", up) end
          if up == "USER" then ch.user = ws[1]
          elseif up == "WORKDIR" then
            -- relative to the one before: an earlier WORKDIR here, else the image's (the core)
            if ch.workdir and ws[1]:sub(1, 1) ~= "/" then ch.workdir = ch.workdir .. "/" .. ws[1]
            else ch.workdir = ws[1] end
          else ch.stop_signal = ws[1] end
        end
      end
    end
  end
  return ch
end

return {
  summary = "Create a new image from a container's changes",
  usage = "bocker commit [OPTIONS] <container> [REPOSITORY[:TAG]]",
  help = [[The new image is the container's image plus one layer holding what the container
changed (deleted files as whiteouts), with the image's config and the --change instructions
applied. Naming an existing image that has no other name (or giving its id) replaces it in
place (same id), as the original did; without a name the image has none.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "commit", true)
    if #rest < 1 or #rest > 2 then cli.fail("usage: bocker commit [OPTIONS] <container> [REPOSITORY[:TAG]]") end
    local c = bocker.container.get(rest[1])
    local changes
    if o.change then
      local ok, img = pcall(bocker.image.get, c.image)
      changes = parse_changes(o.change, ok and img.config.env or nil)
    end
    local img, replaced = c:commit(rest[2], {
      changes = changes, message = o.message, author = o.author, pause = o.pause ~= false,
    })
    if replaced then print("Removed: " .. img.id) end
    print("Created: " .. img.id)
  end,
}
