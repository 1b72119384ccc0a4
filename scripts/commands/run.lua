-- bocker run [OPTIONS] IMAGE [COMMAND [ARG...]]: a new container, in the foreground.
local cli = require "bocker.cli"
local runopts = require "bocker.runopts"

local options = runopts.options

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
    local c = runopts.create(o, rest, "run")
    if o.detach then
      c:start()
      print(c.id)
      return 0
    end
    return c:run { interactive = o.interactive }
  end,
}
