-- bocker commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]: save a container's changes as an image.
local cli = require "bocker.cli"
local dockerfile = require "bocker.dockerfile"

local options = {
  ["-a"] = { name = "author", kind = "value", arg = "AUTHOR", help = "the image's author (\"Name <email>\")" },
  ["--author"] = { name = "author", kind = "value" },
  ["-m"] = { name = "message", kind = "value", arg = "MESSAGE", help = "the commit message (the history entry's comment)" },
  ["--message"] = { name = "message", kind = "value" },
  ["-c"] = { name = "change", kind = "list", arg = "INSTRUCTION", help = "apply a Dockerfile instruction to the config: CMD, ENTRYPOINT, ENV,\nEXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL, HEALTHCHECK, ONBUILD" },
  ["--change"] = { name = "change", kind = "list" },
  ["-p"] = { name = "pause", kind = "flag", help = "freeze a running container while its files are read (default true;\n--pause=false leaves it running)" },
  ["--pause"] = { name = "pause", kind = "flag" },
}

-- ---------------------------------------------------------------------------------------
-- --change: Dockerfile instructions (bocker.dockerfile's parser, Docker's rules), one or
-- more lines per value, turned into the `changes` table of c:commit.

local valid = { CMD = true, ENTRYPOINT = true, ENV = true, EXPOSE = true, LABEL = true, USER = true,
  WORKDIR = true, VOLUME = true, STOPSIGNAL = true, HEALTHCHECK = true, ONBUILD = true }

-- The instructions of every -c value as one `changes` table. config: the image's (its env for
-- $VAR, its shell for the shell form of CMD and ENTRYPOINT).
local function parse_changes(list, config)
  local env = {}
  for _, kv in ipairs(config.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if k then env[k] = v end
  end
  local shell = config.shell or { "/bin/sh", "-c" }
  local ch = {}
  local function add(key, v)
    ch[key] = ch[key] or {}
    table.insert(ch[key], v)
  end
  for _, text in ipairs(list) do
    -- The parser wants a build stage: one is put in front, and taken off again.
    local ok, df = pcall(dockerfile.parse, "FROM scratch\n" .. text, "--change")
    if not ok then cli.fail((tostring(df):gsub("^%-%-change:%d+: ", ""))) end
    local function expand(word)
      local ok2, v = pcall(dockerfile.expand, word, env, { escape = df.escape })
      if not ok2 then cli.fail(tostring(v)) end
      return v
    end
    for i = 2, #df.instructions do
      local ins = df.instructions[i]
      local c, args = ins.cmd, ins.args
      if not valid[c] then cli.fail(("%s is not a valid change command"):format(c:lower())) end
      if c == "CMD" or c == "ENTRYPOINT" then
        local argv = args
        if not ins.json then argv = { table.unpack(shell) }; argv[#argv + 1] = args[1] or "" end
        ch[c == "CMD" and "cmd" or "entrypoint"] = argv
      elseif c == "ENV" then
        for _, p in ipairs(ins.pairs) do
          local k, v = expand(p.key), expand(p.value)
          env[k] = v
          add("env", k .. "=" .. v)
        end
      elseif c == "LABEL" then
        ch.labels = ch.labels or {}
        for _, p in ipairs(ins.pairs) do ch.labels[expand(p.key)] = expand(p.value) end
      elseif c == "EXPOSE" then
        for _, a in ipairs(args) do add("exposed_ports", expand(a)) end
      elseif c == "VOLUME" then
        for _, a in ipairs(args) do add("volumes", expand(a)) end
      elseif c == "HEALTHCHECK" then
        local h = ins.health
        local function seconds(ns) return ns and ns > 0 and ns / 1e9 or nil end
        ch.healthcheck = { test = h.test, interval = seconds(h.interval), timeout = seconds(h.timeout),
          start_period = seconds(h.start_period), start_interval = seconds(h.start_interval),
          retries = h.retries and h.retries > 0 and h.retries or nil }
      elseif c == "WORKDIR" then
        -- relative to the one before: an earlier WORKDIR here, else the image's (the core)
        local w = expand(args[1])
        if ch.workdir and w:sub(1, 1) ~= "/" then ch.workdir = ch.workdir .. "/" .. w else ch.workdir = w end
      elseif c == "ONBUILD" then
        add("on_build", args[1])
      elseif c == "USER" then
        ch.user = expand(args[1])
      else
        ch.stop_signal = expand(args[1])
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
      changes = parse_changes(o.change, ok and img.config or {})
    end
    local img, replaced = c:commit(rest[2], {
      changes = changes, message = o.message, author = o.author, pause = o.pause ~= false,
    })
    if replaced then print("Removed: " .. img.id) end
    print("Created: " .. img.id)
  end,
}
