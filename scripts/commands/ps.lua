-- bocker ps: every container (as the original), CONTAINER_ID and COMMAND first, with status.
local cli = require "bocker.cli"

return {
  summary = "List containers",
  usage = "bocker ps [-a] [-q]",
  help = "Lists every container, running or not, as the original did (-a is accepted).",
  run = function(args)
    local o = cli.parse(args, {
      ["-a"] = { name = "all", kind = "flag" }, ["--all"] = { name = "all", kind = "flag" },
      ["-q"] = { name = "quiet", kind = "flag" }, ["--quiet"] = { name = "quiet", kind = "flag" },
    }, "ps")
    local rows = {}
    for _, c in ipairs(bocker.container.list()) do
      if o.quiet then print(c.id) else
        local ports = c.status == "running" and table.concat(c.ports, ", ") or ""
        rows[#rows + 1] = { c.id, cli.join(c.command), c.image_source, cli.ago(c.created), cli.status(c), ports, c.name or "" }
      end
    end
    if not o.quiet then
      cli.table({ "CONTAINER_ID", "COMMAND", "IMAGE", "CREATED", "STATUS", "PORTS", "NAMES" }, rows)
    end
  end,
}
