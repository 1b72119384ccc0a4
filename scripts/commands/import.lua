-- bocker import [-m MSG] FILE|- [REF]: an image from a flat filesystem tar.
local cli = require "bocker.cli"

local options = {
  ["-m"] = { name = "message", kind = "value", arg = "MSG", help = "history comment of the new layer" },
  ["--message"] = { name = "message", kind = "value", arg = "MSG" },
}

return {
  summary = "Create an image from a filesystem tar archive",
  usage = "bocker import [-m MSG] FILE|- [NAME[:TAG]]",
  help = [[The tar (plain, gzip or zstd; `-` reads standard input) becomes the image's one layer.
Prints the new image's id, as init and commit do.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "import", true)
    if #rest < 1 or #rest > 2 then cli.fail("usage: bocker import [-m MSG] FILE|- [NAME[:TAG]]") end
    local img = bocker.image.import(rest[1], { ref = rest[2], message = o.message })
    print("Created: " .. img.id)
  end,
}
