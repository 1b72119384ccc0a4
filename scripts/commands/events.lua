-- bocker events [OPTIONS]: container events as they happen (create, start, die, oom, destroy).
local cli = require "bocker.cli"

local options = {
  ["--since"] = { name = "since", kind = "value", arg = "TIME", help = "also show events since TIME (a Unix time, or a duration ago: 10m)" },
  ["--until"] = { name = "until", kind = "value", arg = "TIME", help = "stop at TIME (the same forms); without it, follow until interrupted" },
  ["-f"] = { name = "filter", kind = "list", arg = "KEY=VALUE",
             help = "container=ID|NAME, event=create|start|die|oom|destroy, image=SOURCE\n(the same key twice: either value)" },
  ["--filter"] = { name = "filter", kind = "list" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT", help = "json (or '{{json .}}'): one JSON object per line" },
}

-- Docker's --since/--until: a Unix time ("1700000000", "1700000000.5") or a duration before
-- now ("10m", "1h30m").
local function when(value, spelling)
  local n = tonumber(value)
  if n and n >= 1000000000 then return n end
  local ok, seconds = pcall(bocker.duration, value)
  if ok then return bocker.now() - seconds end
  cli.fail(("invalid value '%s' for %s: use a Unix time or a duration such as 10m"):format(value, spelling))
end

local function attributes(e)
  local parts = {}
  if e.exit_code then parts[#parts + 1] = "exitCode=" .. e.exit_code end
  parts[#parts + 1] = "image=" .. e.image
  if e.name then parts[#parts + 1] = "name=" .. e.name end
  return table.concat(parts, ", ")
end

return {
  summary = "Show container events as they happen",
  usage = "bocker events [OPTIONS]",
  options = options,
  help = [[Lines look like Docker's:
  2026-12-02T15:40:00.123456789Z container die ps_0123456789ab (exitCode=0, image=/tmp/rootfs)]],
  error_status = 1,
  run = function(args)
    local o, rest = cli.parse(args, options, "events")
    if #rest > 0 then cli.fail("usage: bocker events [OPTIONS]") end
    local filters = {}
    for _, f in ipairs(o.filter or {}) do
      local k, v = f:match("^([%w_]+)=(.+)$")
      if not k or (k ~= "container" and k ~= "event" and k ~= "image") then
        cli.fail(("invalid filter '%s': use container=, event= or image="):format(f))
      end
      filters[k] = filters[k] or {}
      table.insert(filters[k], v)
    end
    local json = o.format == "json" or o.format == "{{json .}}"
    if o.format and not json then cli.fail(("unsupported --format '%s': use json"):format(o.format)) end
    local since = o.since and when(o.since, "--since")
    local till = o["until"] and when(o["until"], "--until")
    for e in bocker.events { filters = filters, since = since, ["until"] = till } do
      if json then
        print(bocker.json.encode { Type = "container", Action = e.action, id = e.id, time = math.floor(e.time),
          timeNano = math.floor(e.time * 1e9), Actor = { ID = e.id, Attributes = { image = e.image, name = e.name,
          exitCode = e.exit_code and tostring(e.exit_code) or nil } } })
      else
        print(("%s container %s %s (%s)"):format(e.time_text, e.action, e.id, attributes(e)))
      end
      io.stdout:flush()
    end
    return 0
  end,
}
