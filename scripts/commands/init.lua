-- bocker init DIR: make an image from a directory (the original's limited "docker build").
local cli = require "bocker.cli"

return {
  summary = "Create an image from a directory",
  usage = "bocker init <directory>",
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "init", true))
    local dir = args[1]
    if not dir or args[2] then cli.fail("usage: bocker init <directory>") end
    local img = bocker.image.init(dir)
    print("Created: " .. img.id)
  end,
}
