-- bocker system prune: remove what nothing uses (exited containers, unused networks, the build
-- cache).
local cli = require "bocker.cli"

local function human(bytes)
  local units, i = { "B", "kB", "MB", "GB", "TB" }, 1
  while bytes >= 1000 and i < #units do bytes = bytes / 1000; i = i + 1 end
  return (i == 1 and "%d%s" or "%.3g%s"):format(bytes, units[i])
end

local prune_options = {
  ["-f"] = { name = "force", kind = "flag", help = "do not ask (bocker never asks)" },
  ["--force"] = { name = "force", kind = "flag" },
  ["-a"] = { name = "all", kind = "flag", help = "accepted for Docker's sake (unused layers always go)" },
  ["--all"] = { name = "all", kind = "flag" },
}

local function prune(args)
  cli.parse(args, prune_options, { name = "system prune", usage = "bocker system prune [-f]" })
  local freed, removed = 0, {}
  for _, c in ipairs(bocker.container.list()) do
    if c.status == "exited" or c.status == "created" then
      local size = c.disk_usage
      if pcall(c.remove, c) then removed[#removed + 1] = c.id; freed = freed + size end
    end
  end
  if #removed > 0 then print("Deleted Containers:\n" .. table.concat(removed, "\n") .. "\n") end
  local nets = {}
  for _, n in ipairs(bocker.network.list()) do
    if not n.builtin and pcall(n.remove, n) then nets[#nets + 1] = n.name end
  end
  if #nets > 0 then print("Deleted Networks:\n" .. table.concat(nets, "\n") .. "\n") end
  local cache = bocker.build.usage()
  local entries = bocker.build.prune()
  if entries > 0 then print(("Deleted build cache objects: %d\n"):format(entries)) end
  freed = freed + cache.bytes
  print("Total reclaimed space: " .. human(freed))
end

return {
  summary = "System maintenance: prune",
  usage = "bocker system prune [-f]",
  help = "  prune   remove exited containers, unused networks, the build cache and the layers only they used",
  options = {},
  subcommands = { prune = prune_options },
  run = function(args)
    if args[1] == "--help" or args[1] == "-h" then cli.print_help("system"); return 0 end
    if args[1] == "prune" then return prune(table.move(args, 2, #args, 1, {})) end
    cli.fail("usage: bocker system prune [-f]")
  end,
}
