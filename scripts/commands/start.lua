-- bocker start ID...: start created or exited containers in the background.
local cli = require "bocker.cli"

return {
  summary = "Start one or more stopped containers",
  usage = "bocker start <container>...",
  run = function(args)
    if #args == 0 then cli.fail("usage: bocker start <container>...") end
    local failed = 0
    for _, id in ipairs(args) do
      local ok, err = pcall(function() bocker.container.get(id):start() end)
      if ok then print(id) else cli.warn(err); failed = failed + 1 end
    end
    return failed > 0 and 1 or 0
  end,
}
