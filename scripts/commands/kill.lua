-- bocker kill [-s SIGNAL] ID...: signal running containers (default KILL).
local cli = require "bocker.cli"

return {
  summary = "Send a signal to one or more running containers",
  usage = "bocker kill [-s SIGNAL] <container>...",
  help = "-s, --signal SIGNAL   KILL (default), TERM, 15, SIGUSR1, …",
  run = function(args)
    local o, ids = cli.parse(args, { ["-s"] = { name = "signal", kind = "value" },
                                     ["--signal"] = { name = "signal", kind = "value" } }, "kill", true)
    if #ids == 0 then cli.fail("usage: bocker kill [-s SIGNAL] <container>...") end
    return cli.each(ids, function(id) bocker.container.get(id):kill(o.signal or "KILL") end)
  end,
}
