-- bocker restart [-t SECONDS] ID...: stop, then start again.
local cli = require "bocker.cli"

local options = {
  ["-t"] = { name = "time", kind = "value", arg = "SECONDS", help = "seconds to wait after the stop signal before SIGKILL (default: the\ncontainer's --stop-timeout, else 10)" },
  ["--time"] = { name = "time", kind = "value" },
}

return {
  summary = "Restart one or more containers",
  usage = "bocker restart [-t SECONDS] <container>...",
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "restart", true)
    if #ids == 0 then cli.fail("usage: bocker restart [-t SECONDS] <container>...") end
    local timeout = o.time and cli.integer(o.time, "-t", -1) or nil
    return cli.each(ids, function(id)
      local c = bocker.container.get(id)
      c:stop { timeout = timeout }
      c:start()
    end)
  end,
}
