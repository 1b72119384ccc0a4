-- bocker exec CONTAINER COMMAND...: run a command in a running container.
local cli = require "bocker.cli"

local options = {
  ["-e"] = { name = "env", kind = "list", arg = "KEY=VALUE", help = "set an environment variable" },
  ["--env"] = { name = "env", kind = "list" },
  ["-w"] = { name = "workdir", kind = "value", arg = "DIR", help = "working directory inside the container" },
  ["--workdir"] = { name = "workdir", kind = "value" },
  ["-u"] = { name = "user", kind = "value", arg = "USER[:GROUP]", help = "run as this user (name or uid)" },
  ["--user"] = { name = "user", kind = "value" },
  ["-i"] = { name = "interactive", kind = "flag", help = "keep stdin open (always: stdin is this terminal's)" },
  ["--interactive"] = { name = "interactive", kind = "flag" },
  ["-d"] = { name = "detach", kind = "flag", help = "run the command in the background (its output is discarded)" },
  ["--detach"] = { name = "detach", kind = "flag" },
  ["--env-file"] = { name = "env_file", kind = "list", arg = "FILE", help = "KEY=VALUE lines to add to the environment (before -e)" },
  ["-t"] = { name = "tty", kind = "flag", help = "give the command a pseudo-terminal in the container (-it for a shell)" },
  ["--tty"] = { name = "tty", kind = "flag" },
}

return {
  summary = "Execute a command in a running container",
  usage = "bocker exec [OPTIONS] <container> <command> [arg...]",
  options = options,
  help = [[stdin is always connected, as in the original. The command never gets this terminal
itself: without -t a terminal reaches it through a relayed pipe; with -t it gets a new
pseudo-terminal of the container's own (/dev/pts/N there), relayed to this one.
Exit status: the command's; 125 for a bad option; 126 when it cannot be executed, 127 when
it is not found.]],
  run = function(args)
    local o, rest = cli.parse(args, options, "exec")
    if #rest < 2 then cli.fail("usage: bocker exec <container_id> <command> [arg...]") end
    local c = bocker.container.get(rest[1])
    local cmd = table.move(rest, 2, #rest, 1, {})
    local env = {}
    for _, path in ipairs(o.env_file or {}) do
      local lines, err = cli.read_env_file(path)
      if not lines then cli.fail(("cannot read --env-file '%s': %s"):format(path, err)) end
      for _, kv in ipairs(lines) do env[#env + 1] = kv end
    end
    for _, kv in ipairs(o.env or {}) do
      if kv:find("=", 1, true) then env[#env + 1] = kv
      elseif kv ~= "" and os.getenv(kv) then env[#env + 1] = kv .. "=" .. os.getenv(kv) end
    end
    return c:exec(cmd, { env = env, workdir = o.workdir, user = o.user, tty = o.tty, detach = o.detach })
  end,
}
