-- bocker stop [-t SECONDS] ID...: SIGTERM, then SIGKILL after the timeout.
local cli = require "bocker.cli"

return {
  summary = "Stop one or more running containers",
  usage = "bocker stop [-t SECONDS] <container>...",
  help = "-t, --time SECONDS   seconds to wait after SIGTERM before SIGKILL (default 10)",
  run = function(args)
    local o, ids = cli.parse(args, { ["-t"] = { name = "time", kind = "value" },
                                     ["--time"] = { name = "time", kind = "value" } }, "stop", true)
    if #ids == 0 then cli.fail("usage: bocker stop [-t SECONDS] <container>...") end
    local timeout = o.time and cli.integer(o.time, "-t", 0) or 10
    return cli.each(ids, function(id) bocker.container.get(id):stop { timeout = timeout } end)
  end,
}
