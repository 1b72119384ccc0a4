-- bocker ps: every container (as the original), CONTAINER_ID and COMMAND first, with status.
local cli = require "bocker.cli"

local function matches(c, filters)
  for _, f in ipairs(filters) do
    local key, value = f:match("^([%w_]+)=(.*)$")
    if not key then cli.fail(("invalid filter '%s': use KEY=VALUE"):format(f)) end
    if key == "status" then
      if c.status ~= value then return false end
    elseif key == "name" then
      if not (c.name or ""):find(value, 1, true) then return false end
    elseif key == "id" then
      if c.id:sub(1, #value) ~= value then return false end
    else
      cli.fail(("invalid filter '%s': use status=, name= or id="):format(f))
    end
  end
  return true
end

return {
  summary = "List containers",
  usage = "bocker ps [-a] [-q] [--filter status=running|exited|created] [--format json]",
  help = "Lists every container, running or not, as the original did (-a is accepted).",
  run = function(args)
    local o = cli.parse(args, {
      ["-a"] = { name = "all", kind = "flag" }, ["--all"] = { name = "all", kind = "flag" },
      ["-q"] = { name = "quiet", kind = "flag" }, ["--quiet"] = { name = "quiet", kind = "flag" },
      ["-f"] = { name = "filter", kind = "list" }, ["--filter"] = { name = "filter", kind = "list" },
      ["--format"] = { name = "format", kind = "value" },
    }, "ps")
    if o.format and o.format ~= "json" then cli.fail("--format: only 'json' is supported") end
    local rows = {}
    for _, c in ipairs(bocker.container.list()) do
      if matches(c, o.filter or {}) then
        local ports = c.status == "running" and table.concat(c.ports, ", ") or ""
        if o.quiet then
          print(c.id)
        elseif o.format == "json" then
          print(bocker.json {
            ID = c.id, Names = c.name or "", Image = c.image_source, Command = cli.join(c.command),
            CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(c.created)),
            State = c.status, Status = cli.status(c), Ports = ports,
          })
        else
          rows[#rows + 1] = { c.id, cli.join(c.command), c.image_source, cli.ago(c.created), cli.status(c), ports, c.name or "" }
        end
      end
    end
    if not o.quiet and o.format ~= "json" then
      cli.table({ "CONTAINER_ID", "COMMAND", "IMAGE", "CREATED", "STATUS", "PORTS", "NAMES" }, rows)
    end
  end,
}
