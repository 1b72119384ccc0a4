-- bocker attach CONTAINER: this terminal's input to a running container (created with -i),
-- its output here, until it exits (its exit status) or the detach keys are typed.
local cli = require "bocker.cli"

local options = {
  ["--no-stdin"] = { name = "no_stdin", kind = "flag", help = "do not attach stdin" },
  ["--sig-proxy"] = { name = "sig_proxy", kind = "flag", help = "forward signals to the container (default true; not with -t)" },
  ["--detach-keys"] = { name = "detach_keys", kind = "value", arg = "KEYS", help = "keys that detach (default ctrl-p,ctrl-q)" },
}

return {
  summary = "Attach to a running container's input and output",
  usage = "bocker attach [OPTIONS] <container>",
  options = options,
  help = [[Shows what the container prints from now on (stdout here, stderr on stderr) until it exits;
the exit status is the container's. Input goes to the container if it was created with -i:
end of input here closes its stdin. With a terminal, Ctrl-P Ctrl-Q (or --detach-keys)
detaches and leaves it running; so does killing attach. Signals (Ctrl-C) are forwarded to
the container unless --sig-proxy=false or it has a terminal (-t: Ctrl-C is a keystroke).]],
  run = function(args)
    local o, rest = cli.parse(args, options, "attach", true)
    if #rest ~= 1 then cli.fail("usage: bocker attach [OPTIONS] <container>") end
    local c = bocker.container.get(rest[1])
    local code = c:attach { stdin = not o.no_stdin, sig_proxy = o.sig_proxy ~= false, detach_keys = o.detach_keys }
    return code or 0
  end,
}
