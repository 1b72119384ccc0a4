-- bocker logs [-f] [-n N] [-t] CONTAINER: what the container printed, stdout and stderr apart.
local cli = require "bocker.cli"

local function write(e, timestamps)
  local out = e.stream == "stderr" and io.stderr or io.stdout
  if timestamps then out:write(e.time, " ") end
  out:write(e.text)
  out:flush()
end

local options = {
  ["-t"] = { name = "timestamps", kind = "flag", help = "prefix each line with its time (RFC 3339)" },
  ["--timestamps"] = { name = "timestamps", kind = "flag" },
  ["-f"] = { name = "follow", kind = "flag", help = "keep printing new output until the container stops" },
  ["--follow"] = { name = "follow", kind = "flag" },
  ["--since"] = { name = "since", kind = "value", arg = "TIME", help = "only output since TIME (RFC 3339, Unix time, or a duration ago: 10m)" },
  ["--until"] = { name = "until", kind = "value", arg = "TIME", help = "only output before TIME (the same forms)" },
  ["-n"] = { name = "tail", kind = "value", arg = "N", help = "only the last N lines" },
  ["--tail"] = { name = "tail", kind = "value" },
}

return {
  summary = "Show a container's output",
  usage = "bocker logs [OPTIONS] <container>",
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "logs", true)
    if #rest ~= 1 then cli.fail("usage: bocker logs [-f] [-n N] [-t] <container>") end
    local c = bocker.container.get(rest[1])
    local window = { since = o.since, ["until"] = o["until"] }
    local entries, offset, running = c:logs { offset = 0, since = window.since, ["until"] = window["until"] }
    local first = 1
    if o.tail and o.tail ~= "all" then first = math.max(1, #entries - cli.integer(o.tail, "--tail", 0) + 1) end
    for i = first, #entries do write(entries[i], o.timestamps) end
    while o.follow and running do
      entries, offset, running = c:logs { offset = offset, wait = true, since = window.since, ["until"] = window["until"] }
      for _, e in ipairs(entries) do write(e, o.timestamps) end
    end
  end,
}
