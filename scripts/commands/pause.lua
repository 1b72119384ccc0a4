-- bocker pause CONTAINER...: freeze every process of running containers.
local cli = require "bocker.cli"

return {
  summary = "Pause all processes within one or more containers",
  usage = "bocker pause <container>...",
  options = {},
  help = "The processes are stopped by the cgroup freezer (they never notice); 'bocker unpause' resumes them.",
  run = function(args)
    args = select(2, cli.parse(args, {}, "pause", true))
    if #args == 0 then cli.fail("usage: bocker pause <container>...") end
    return cli.each(args, function(ref) bocker.container.get(ref):pause() end)
  end,
}
