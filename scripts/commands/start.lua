-- bocker start ID...: start created or exited containers in the background.
local cli = require "bocker.cli"

return {
  summary = "Start one or more stopped containers",
  usage = "bocker start <container>...",
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "start", true))
    if #args == 0 then cli.fail("usage: bocker start <container>...") end
    return cli.each(args, function(id) bocker.container.get(id):start() end)
  end,
}
