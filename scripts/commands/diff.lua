-- bocker diff CONTAINER: files added (A), changed (C) and deleted (D) against the image.
local cli = require "bocker.cli"

return {
  summary = "Inspect changes to files or directories on a container's filesystem",
  usage = "bocker diff <container>",
  options = {},
  help = "One line per change, sorted by path, as Docker's: 'A /new', 'C /etc', 'D /old'.",
  run = function(args)
    args = select(2, cli.parse(args, {}, "diff", true))
    if #args ~= 1 then cli.fail("usage: bocker diff <container>") end
    for _, ch in ipairs(bocker.container.get(args[1]):diff()) do print(ch.kind .. " " .. ch.path) end
  end,
}
