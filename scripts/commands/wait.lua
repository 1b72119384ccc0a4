-- bocker wait ID...: block until containers exit; print their exit codes.
local cli = require "bocker.cli"

return {
  summary = "Block until containers stop, then print their exit codes",
  usage = "bocker wait <container>...",
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "wait", true))
    if #args == 0 then cli.fail("usage: bocker wait <container>...") end
    return cli.each(args, function(id) return bocker.container.get(id):wait() end)
  end,
}
