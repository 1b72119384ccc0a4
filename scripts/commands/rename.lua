-- bocker rename CONTAINER NEW_NAME
local cli = require "bocker.cli"

return {
  summary = "Rename a container",
  usage = "bocker rename <container> <new_name>",
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "rename", true))
    if #args ~= 2 then cli.fail("usage: bocker rename <container> <new_name>") end
    bocker.container.get(args[1]):rename(args[2])
  end,
}
