-- bocker logs CONTAINER: what the container printed, stdout and stderr kept apart.
local cli = require "bocker.cli"

return {
  summary = "Show a container's output",
  usage = "bocker logs [-t] <container_id>",
  run = function(args)
    local o, rest = cli.parse(args, { ["-t"] = { name = "timestamps", kind = "flag" },
                                      ["--timestamps"] = { name = "timestamps", kind = "flag" } }, "logs")
    if #rest ~= 1 then cli.fail("usage: bocker logs <container_id>") end
    local c = bocker.container.get(rest[1])
    for _, e in ipairs(c:logs()) do
      local out = e.stream == "stderr" and io.stderr or io.stdout
      if o.timestamps then out:write(e.time, " ") end
      out:write(e.text)
    end
  end,
}
