-- bocker kill [-s SIGNAL] ID...: signal running containers (default KILL).
local cli = require "bocker.cli"

local options = {
  ["-s"] = { name = "signal", kind = "value", arg = "SIGNAL", help = "KILL (default), TERM, 15, SIGUSR1, …" },
  ["--signal"] = { name = "signal", kind = "value" },
}

return {
  summary = "Send a signal to one or more running containers",
  usage = "bocker kill [-s SIGNAL] <container>...",
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "kill", true)
    if #ids == 0 then cli.fail("usage: bocker kill [-s SIGNAL] <container>...") end
    return cli.each(ids, function(id) bocker.container.get(id):kill(o.signal or "KILL") end)
  end,
}
