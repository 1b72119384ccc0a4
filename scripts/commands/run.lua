-- bocker run [OPTIONS] IMAGE [COMMAND [ARG...]]: a new container, in the foreground.
local cli = require "bocker.cli"
local runopts = require "bocker.runopts"

-- run's own flags on top of the shared ones: which streams to show and whether to forward
-- signals only mean something for a container started attached now.
local options = {
  ["-a"] = { name = "attach", kind = "list", arg = "STREAM", help = "show only these streams: stdout, stderr (stdin: as -i)" },
  ["--attach"] = { name = "attach", kind = "list" },
  ["--sig-proxy"] = { name = "sig_proxy", kind = "flag", help = "forward signals to the container (default true; --sig-proxy=false ignores them)" },
}
for spelling, def in pairs(runopts.options) do options[spelling] = def end

return {
  summary = "Create a container from an image and run a command in it",
  usage = "bocker run [OPTIONS] <image> [command [arg...]]",
  options = options,
  help = [[The security options are described in docs/security.md. --log-opt max-file=N keeps N
files (default 1: the log is emptied); the log is unbounded by default.

One command argument containing shell syntax or spaces runs as /bin/sh -c '<it>', as the
original did ('sleep 5 && ps aux'); several arguments are executed directly, as Docker does.
Exit status: the command's; 125 when bocker itself fails, 126 when the command cannot be
executed, 127 when it is not found.]],
  error_status = 125,
  run = function(args)
    local o, rest = cli.parse(args, options, "run")
    local attach = o.attach
    if attach and o.detach then cli.fail("conflicting options: -a and -d") end
    for _, s in ipairs(attach or {}) do
      local l = s:lower()
      if l == "stdin" then o.interactive = true
      elseif l ~= "stdout" and l ~= "stderr" then cli.fail(("invalid -a '%s': use stdin, stdout or stderr"):format(s)) end
    end
    local c = runopts.create(o, rest, "run")
    if o.detach then
      c:start()
      print(c.id)
      return 0
    end
    return c:run { interactive = o.interactive, attach = attach, sig_proxy = o.sig_proxy ~= false }
  end,
}
