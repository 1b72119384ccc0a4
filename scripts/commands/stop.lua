-- bocker stop [-t SECONDS] ID...: the stop signal (TERM unless the container says), then SIGKILL after the timeout.
local cli = require "bocker.cli"

local options = {
  ["-t"] = { name = "time", kind = "value", arg = "SECONDS", help = "seconds to wait after the stop signal before SIGKILL (default: the\ncontainer's --stop-timeout, else 10)" },
  ["--time"] = { name = "time", kind = "value" },
}

return {
  summary = "Stop one or more running containers",
  usage = "bocker stop [-t SECONDS] <container>...",
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "stop", true)
    if #ids == 0 then cli.fail("usage: bocker stop [-t SECONDS] <container>...") end
    local timeout = o.time and cli.integer(o.time, "-t", -1) or nil
    return cli.each(ids, function(id) bocker.container.get(id):stop { timeout = timeout } end)
  end,
}
