-- bocker unpause CONTAINER...: let paused containers run again.
local cli = require "bocker.cli"

return {
  summary = "Unpause all processes within one or more containers",
  usage = "bocker unpause <container>...",
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "unpause", true))
    if #args == 0 then cli.fail("usage: bocker unpause <container>...") end
    return cli.each(args, function(ref) bocker.container.get(ref):unpause() end)
  end,
}
