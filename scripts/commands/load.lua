-- bocker load [-i FILE]: read images from an archive (docker save, podman save, skopeo, bocker save).
local cli = require "bocker.cli"

local options = {
  ["-i"] = { name = "input", kind = "value", arg = "FILE", help = "read from FILE instead of standard input" },
  ["--input"] = { name = "input", kind = "value", arg = "FILE" },
  ["-q"] = { name = "quiet", kind = "flag", help = "print nothing but errors" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
}

return {
  summary = "Load images from a tar archive",
  usage = "bocker load [-i FILE] [-q]",
  help = [[Reads docker-archive (as docker save, podman save and skopeo write it; layers plain,
gzip or zstd) and OCI image layout archives, plain or compressed. Every blob and layer is
checked against its digest; a bad archive leaves nothing behind.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "load", true)
    if #rest ~= 0 then cli.fail("usage: bocker load [-i FILE] [-q]") end
    local images, names = bocker.image.load(o.input or "-")
    if o.quiet then return end
    for i, img in ipairs(images) do
      if #names[i] == 0 then
        print("Loaded image ID: " .. (img.config_digest or img.id))
      else
        for _, n in ipairs(names[i]) do print("Loaded image: " .. n) end
      end
    end
  end,
}
