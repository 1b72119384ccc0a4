-- bocker wait ID...: block until containers exit; print their exit codes.
local cli = require "bocker.cli"

return {
  summary = "Block until containers stop, then print their exit codes",
  usage = "bocker wait <container>...",
  run = function(args)
    if #args == 0 then cli.fail("usage: bocker wait <container>...") end
    local failed = 0
    for _, id in ipairs(args) do
      local ok, code = pcall(function() return bocker.container.get(id):wait() end)
      if ok then print(code) else cli.warn(code); failed = failed + 1 end
    end
    return failed > 0 and 1 or 0
  end,
}
