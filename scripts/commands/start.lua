-- bocker start [-a] [-i] ID...: start created or exited containers, in the background or attached.
local cli = require "bocker.cli"

local options = {
  ["-a"] = { name = "attach", kind = "flag", help = "attach: show its output here and wait for its exit status" },
  ["--attach"] = { name = "attach", kind = "flag" },
  ["-i"] = { name = "interactive", kind = "flag", help = "attach stdin too (to a container created with -i)" },
  ["--interactive"] = { name = "interactive", kind = "flag" },
  ["--detach-keys"] = { name = "detach_keys", kind = "value", arg = "KEYS", help = "keys that detach (default ctrl-p,ctrl-q)" },
}

return {
  summary = "Start one or more stopped containers",
  usage = "bocker start [OPTIONS] <container>...",
  options = options,
  help = [[With -a (or -i) one container starts attached, as 'bocker attach' after its start: its
output appears here from its first line, and the exit status is the container's. With -i
this input reaches a container created with -i, and its end closes the container's stdin.
Ctrl-P Ctrl-Q (with a terminal) detaches and leaves it running; Ctrl-C is forwarded to it.]],
  run = function(args)
    local o
    o, args = cli.parse(args, options, "start", true)
    if #args == 0 then cli.fail("usage: bocker start [OPTIONS] <container>...") end
    if o.attach or o.interactive then
      if #args ~= 1 then cli.fail("you cannot start and attach multiple containers at once") end
      local code = bocker.container.get(args[1]):attach { start = true, stdin = o.interactive, detach_keys = o.detach_keys }
      return code or 0
    end
    return cli.each(args, function(id) bocker.container.get(id):start() end)
  end,
}
