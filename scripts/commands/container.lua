-- bocker container prune|ls|...: Docker's management form of the container commands.
local cli = require "bocker.cli"

local prune_options = {
  ["-f"] = { name = "force", kind = "flag", help = "do not ask (bocker never asks)" },
  ["--force"] = { name = "force", kind = "flag" },
}

-- `bocker container VERB` is `bocker VERB` for these (Docker's aliases).
local aliases = { ls = "ps", list = "ps", ps = "ps" }
for _, v in ipairs({ "attach", "commit", "cp", "create", "diff", "exec", "inspect", "kill", "logs", "pause",
                     "port", "rename", "restart", "rm", "run", "start", "stats", "stop", "top", "unpause",
                     "update", "wait" }) do
  aliases[v] = v
end

local function prune(args)
  cli.parse(args, prune_options, { name = "container prune", usage = "bocker container prune [-f]" })
  local ids, bytes = bocker.container.prune()
  if #ids > 0 then print("Deleted Containers:\n" .. table.concat(ids, "\n") .. "\n") end
  print("Total reclaimed space: " .. cli.human(bytes))
end

return {
  summary = "Manage containers: prune, and Docker's 'container VERB' spellings",
  usage = "bocker container prune [-f] | bocker container <verb> ...",
  help = [[  prune   remove every stopped container (created or exited)
  ls      as 'bocker ps'; the other verbs as 'bocker <verb>' (container rm = rm, ...)]],
  options = {},
  subcommands = { prune = prune_options },
  run = function(args)
    local verb = args[1]
    if verb == "--help" or verb == "-h" then cli.print_help("container"); return 0 end
    if verb == "prune" then return prune(table.move(args, 2, #args, 1, {})) end
    local target = verb and aliases[verb]
    if not target then cli.fail("usage: bocker container prune [-f] | bocker container <verb> ...") end
    local cmd = bocker.load_command(target)
    return cmd.run(table.move(args, 2, #args, 1, {}))
  end,
}
