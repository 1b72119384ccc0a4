-- bocker builder prune | du: the build cache (steps `bocker build` and bocker.build reuse).
local cli = require "bocker.cli"

local prune_options = {
  ["-f"] = { name = "force", kind = "flag", help = "do not ask (bocker never asks)" },
  ["--force"] = { name = "force", kind = "flag" },
  ["-a"] = { name = "all", kind = "flag", help = "accepted for Docker's sake (the whole cache goes)" },
  ["--all"] = { name = "all", kind = "flag" },
}

return {
  summary = "Manage the build cache: prune, du",
  usage = "bocker builder prune [-f] | bocker builder du",
  help = [[  prune   remove every build cache entry and the layers only the cache kept
  du      show what the build cache holds (entries, layers and bytes only it keeps)]],
  options = {},
  subcommands = { prune = prune_options, du = {} },
  run = function(args)
    local sub = args[1]
    if sub == "--help" or sub == "-h" then cli.print_help("builder"); return 0 end
    local rest = table.move(args, 2, #args, 1, {})
    if sub == "prune" then
      cli.parse(rest, prune_options, { name = "builder prune", usage = "bocker builder prune [-f]" })
      local before = bocker.build.usage()
      local entries, layers = bocker.build.prune()
      print(("Deleted build cache objects: %d (%d layers)"):format(entries, layers))
      print("Total reclaimed space: " .. cli.human(before.bytes))
    elseif sub == "du" then
      cli.parse(rest, {}, { name = "builder du", usage = "bocker builder du" })
      local u = bocker.build.usage()
      cli.table({ "ENTRIES", "LAYERS", "SIZE" }, { { tostring(u.entries), tostring(u.layers), cli.human(u.bytes) } })
    else
      cli.fail("usage: bocker builder prune [-f] | bocker builder du")
    end
  end,
}
