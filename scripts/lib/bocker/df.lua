-- bocker system df: what the store's images, containers and volumes take on disk.
local cli = require "bocker.cli"
local template = require "bocker.template"

local df = {}

df.options = {
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json or a Go template: .Type .TotalCount .Active .Size .Reclaimable" },
  ["-v"] = { name = "verbose", kind = "flag", help = "accepted for Docker's sake (the summary only)" },
  ["--verbose"] = { name = "verbose", kind = "flag" },
}

function df.run(args)
  local o, rest = cli.parse(args, df.options, { name = "system df", usage = "bocker system df [OPTIONS]" })
  if #rest > 0 then cli.fail("usage: bocker system df [OPTIONS]") end
  local objects = {}
  for _, r in ipairs(bocker.system_df()) do
    local pct = r.size > 0 and math.floor(r.reclaimable / r.size * 100 + 0.5) or 0
    objects[#objects + 1] = {
      Type = r.type, TotalCount = tostring(r.total), Active = tostring(r.active), Size = cli.human(r.size),
      Reclaimable = r.type == "Build Cache" and cli.human(r.reclaimable) or ("%s (%d%%)"):format(cli.human(r.reclaimable), pct),
    }
  end
  local format = o.format or "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
  local lines = template.format_list(format, objects, { Type = "TYPE", TotalCount = "TOTAL", Active = "ACTIVE",
                                                        Size = "SIZE", Reclaimable = "RECLAIMABLE" })
  if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
end

return df
