-- bocker commit CONTAINER IMAGE: save a container's filesystem as an image.
local cli = require "bocker.cli"

return {
  summary = "Commit a container to an image",
  usage = "bocker commit <container_id> <image_id or new name>",
  help = [[An existing image is replaced in place (same id), as the original did; any other
name makes a new image whose SOURCE is that name.]],
  options = {},
  run = function(args)
    args = select(2, cli.parse(args, {}, "commit", true))
    if #args ~= 2 then cli.fail("usage: bocker commit <container_id> <image_id>") end
    local c = bocker.container.get(args[1])
    local img, replaced = c:commit(args[2])
    if replaced then print("Removed: " .. img.id) end
    print("Created: " .. img.id)
  end,
}
