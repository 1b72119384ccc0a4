-- bocker pull NAME TAG | bocker pull [REGISTRY/]NAME[:TAG|@DIGEST]: an image from a registry.
local cli = require "bocker.cli"

local options = {
  ["--platform"] = { name = "platform", kind = "value", arg = "OS/ARCH[/VARIANT]", help = "the platform to pull (default: this machine's)" },
  ["-q"] = { name = "quiet", kind = "flag", help = "print only the Created: line" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
}

return {
  summary = "Pull an image from a registry (Docker Hub or any OCI registry)",
  usage = "bocker pull [--platform OS/ARCH[/VARIANT]] [-q] NAME[:TAG|@DIGEST]  |  bocker pull NAME TAG",
  help = [[As in the original, `bocker pull centos 7` pulls centos:7 and ends with `Created: img_…`.
Docker Hub is the default registry (`alpine` is docker.io/library/alpine:latest). Plain HTTP is
used only for localhost/127.0.0.1 and for registries listed in $BOCKER_INSECURE_REGISTRIES.
Credentials come from ~/.docker/config.json or `bocker login`.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "pull", true)
    local ref
    if #rest == 2 then ref = rest[1] .. ":" .. rest[2]
    elseif #rest == 1 then ref = rest[1]
    else cli.fail("usage: bocker pull NAME[:TAG] (or: bocker pull NAME TAG)") end
    if not o.quiet then
      local tag = ref:match(":([^/:@]+)$") or (ref:find("@", 1, true) and ref:match("@(.*)$")) or "latest"
      print(("%s: Pulling from %s"):format(tag, (ref:gsub("[:@][^/:]*$", ""))))
    end
    local img, digest, downloaded = bocker.image.pull(ref, { platform = o.platform, progress = cli.progress(o.quiet) })
    if not o.quiet then
      print("Digest: " .. digest)
      print(downloaded and ("Status: Downloaded newer image for " .. img.source)
                       or ("Status: Image is up to date for " .. img.source))
    end
    print("Created: " .. img.id)
  end,
}
