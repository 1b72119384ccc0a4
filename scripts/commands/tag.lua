-- bocker tag SOURCE TARGET: give an image another name.
local cli = require "bocker.cli"

return {
  summary = "Give an image another name",
  usage = "bocker tag <image> <name>[:<tag>]",
  help = [[SOURCE is an image id (or the start of one) or a name; TARGET is [REGISTRY/]NAME[:TAG]
(tag `latest` when none). An image that had the name TARGET loses it. `bocker push TARGET`
then sends the image to the registry TARGET names.]],
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "tag", true))
    if #args ~= 2 then cli.fail("usage: bocker tag <image> <name>[:<tag>]") end
    bocker.image.get(args[1]):tag(args[2])
  end,
}
