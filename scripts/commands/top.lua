-- bocker top CONTAINER [ps OPTIONS]: the container's processes, as the host's ps shows them.
local cli = require "bocker.cli"

return {
  summary = "Display the running processes of a container",
  usage = "bocker top <container> [ps OPTIONS]",
  options = {},
  help = [[The ps options (default -ef) go to the host's ps; only the rows of the container's
processes (its cgroup's) are shown. The output needs a PID column.]],
  run = function(args)
    args = select(2, cli.parse(args, {}, "top"))
    if #args < 1 then cli.fail("usage: bocker top <container> [ps OPTIONS]") end
    local c = bocker.container.get(args[1])
    local titles, rows = c:top(table.move(args, 2, #args, 1, {}))
    -- Docker's layout: columns padded to fit; the last (the command) as it is.
    local widths = {}
    for i, t in ipairs(titles) do widths[i] = #t end
    for _, r in ipairs(rows) do for i, v in ipairs(r) do widths[i] = math.max(widths[i] or 0, #v) end end
    local function line(r)
      local cells = {}
      for i, v in ipairs(r) do cells[i] = i < #r and (v .. string.rep(" ", widths[i] - #v)) or v end
      print(table.concat(cells, "   "))
    end
    line(titles)
    for _, r in ipairs(rows) do line(r) end
  end,
}
