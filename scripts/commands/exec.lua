-- bocker exec CONTAINER COMMAND...: run a command in a running container.
local cli = require "bocker.cli"

return {
  summary = "Execute a command in a running container",
  usage = "bocker exec [-e KEY=VALUE] [-w DIR] [-u USER] <container_id> <command> [arg...]",
  help = [[The command's stdin, stdout and stderr are this terminal's, as in the original
(-i is accepted for Docker's sake; stdin is always connected). Exit status: the command's;
126 when it cannot be executed, 127 when it is not found.]],
  run = function(args)
    local o, rest = cli.parse(args, {
      ["-e"] = { name = "env", kind = "list" }, ["--env"] = { name = "env", kind = "list" },
      ["-w"] = { name = "workdir", kind = "value" }, ["--workdir"] = { name = "workdir", kind = "value" },
      ["-u"] = { name = "user", kind = "value" }, ["--user"] = { name = "user", kind = "value" },
      ["-i"] = { name = "interactive", kind = "flag" }, ["--interactive"] = { name = "interactive", kind = "flag" },
    }, "exec")
    if #rest < 2 then cli.fail("usage: bocker exec <container_id> <command> [arg...]") end
    local c = bocker.container.get(rest[1])
    local cmd = table.move(rest, 2, #rest, 1, {})
    return c:exec(cmd, { env = o.env, workdir = o.workdir, user = o.user })
  end,
}
