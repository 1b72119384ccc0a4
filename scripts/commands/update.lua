-- bocker update [OPTIONS] CONTAINER...: change the resource limits of containers.
local cli = require "bocker.cli"

local options = {
  ["-m"] = { name = "memory", kind = "value", arg = "SIZE", help = "memory limit: 64m, 1g" },
  ["--memory"] = { name = "memory", kind = "value" },
  ["-c"] = { name = "cpu_shares", kind = "value", arg = "N", help = "CPU shares (relative weight, 2-262144)" },
  ["--cpu-shares"] = { name = "cpu_shares", kind = "value" },
  ["--cpus"] = { name = "cpus", kind = "value", arg = "N", help = "at most N CPUs' worth of time (1.5; 0: no limit)" },
  ["--pids-limit"] = { name = "pids_limit", kind = "value", arg = "N", help = "most processes at once (0 or -1: unlimited)" },
}

return {
  summary = "Update the resource limits of one or more containers",
  usage = "bocker update [OPTIONS] <container>...",
  options = options,
  help = "Running or not: the new limits hold at once and for later starts.",
  run = function(args)
    local o, rest = cli.parse(args, options, "update", true)
    if #rest == 0 then cli.fail("usage: bocker update [OPTIONS] <container>...") end
    local limits = {
      memory = o.memory and cli.bytes(o.memory, o.memory_spelling),
      cpu_shares = o.cpu_shares and cli.integer(o.cpu_shares, o.cpu_shares_spelling, 0),
      pids_limit = o.pids_limit and cli.integer(o.pids_limit, "--pids-limit", -1),
    }
    if o.cpus then
      local n = tonumber(o.cpus)
      if not n or n < 0 then cli.fail(("invalid value '%s' for --cpus: expected a number such as 1.5"):format(o.cpus)) end
      limits.cpus = n
    end
    if next(limits) == nil then cli.fail("update: give at least one of --memory, --cpu-shares, --cpus, --pids-limit") end
    return cli.each(rest, function(ref) bocker.container.get(ref):update(limits) end)
  end,
}
