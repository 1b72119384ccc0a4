-- bocker push NAME[:TAG]: send an image to the registry its name names.
local cli = require "bocker.cli"

local options = {
  ["--compression"] = { name = "compression", kind = "value", arg = "gzip|zstd", help = "how layers made here are packed (default gzip)" },
  ["-q"] = { name = "quiet", kind = "flag", help = "print only the digest line" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
}

return {
  summary = "Push an image to a registry",
  usage = "bocker push [--compression gzip|zstd] [-q] [REGISTRY/]NAME[:TAG]",
  help = [[Give the image that name first with `bocker tag`. Layers the registry has are skipped,
layers pulled from another repository of the same registry are mounted from there, the rest are
uploaded. Layers of images made here (init, commit) are packed once, in parallel, with gzip
(or --compression zstd) and kept for the next push. Credentials as for pull (`bocker login`).]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "push", true)
    if #rest ~= 1 then cli.fail("usage: bocker push [REGISTRY/]NAME[:TAG]") end
    local ref = rest[1]
    local img = bocker.image.get(ref)
    if not o.quiet then
      print(("The push refers to repository [%s]"):format((ref:gsub(":[^/:]*$", ""))))
    end
    local digest, size, pushed = img:push(ref, { compression = o.compression, progress = cli.progress(o.quiet) })
    local tag = pushed:match(":([^/:@]+)$") or "latest"
    print(("%s: digest: %s size: %d"):format(tag, digest, size))
  end,
}
