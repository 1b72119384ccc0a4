-- bocker inspect ID...: JSON descriptions, shaped like Docker's.
local cli = require "bocker.cli"

return {
  summary = "Show low-level information on containers as JSON",
  usage = "bocker inspect <container>...",
  run = function(args)
    if #args == 0 then cli.fail("usage: bocker inspect <container>...") end
    local parts, failed = {}, 0
    for _, id in ipairs(args) do
      local ok, text = pcall(function() return bocker.container.get(id):inspect { json = true } end)
      if ok then parts[#parts + 1] = "    " .. text:gsub("\n", "\n    ") else cli.warn(text); failed = failed + 1 end
    end
    print("[\n" .. table.concat(parts, ",\n") .. "\n]")
    return failed > 0 and 1 or 0
  end,
}
