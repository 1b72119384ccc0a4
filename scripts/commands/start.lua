-- bocker start [-a] [-i] ID...: start created or exited containers, in the background or attached.
local cli = require "bocker.cli"

local options = {
  ["-a"] = { name = "attach", kind = "flag", help = "attach: show its output here and wait for its exit status" },
  ["--attach"] = { name = "attach", kind = "flag" },
  ["-i"] = { name = "interactive", kind = "flag", help = "with -a: this terminal's input is the container's stdin" },
  ["--interactive"] = { name = "interactive", kind = "flag" },
}

return {
  summary = "Start one or more stopped containers",
  usage = "bocker start [OPTIONS] <container>...",
  options = options,
  help = [[With -a (or -i) one container runs attached, as 'bocker run' does: its output appears
here as well as in its log, and the exit status is the container's.]],
  run = function(args)
    local o
    o, args = cli.parse(args, options, "start", true)
    if #args == 0 then cli.fail("usage: bocker start [OPTIONS] <container>...") end
    if o.attach or o.interactive then
      if #args ~= 1 then cli.fail("you cannot start and attach multiple containers at once") end
      return bocker.container.get(args[1]):run { interactive = o.interactive }
    end
    return cli.each(args, function(id) bocker.container.get(id):start() end)
  end,
}
