-- bocker save [-o FILE] IMAGE...: write images to an archive docker load (or bocker load) reads.
local cli = require "bocker.cli"

local options = {
  ["-o"] = { name = "output", kind = "value", arg = "FILE", help = "write to FILE instead of standard output" },
  ["--output"] = { name = "output", kind = "value", arg = "FILE" },
  ["--format"] = { name = "format", kind = "value", arg = "docker-archive|oci-archive", help = "archive format (default docker-archive)" },
}

return {
  summary = "Save images to a tar archive",
  usage = "bocker save [-o FILE] [--format docker-archive|oci-archive] IMAGE...",
  help = [[IMAGE is a name (recorded in the archive) or an id. docker-archive is what `docker load`
reads (Docker 25's layout: manifest.json plus an OCI layout); oci-archive is an OCI image
layout in a tar. Layers are stored as pushed (an image made here gets its layers packed once,
with gzip), so digests agree with the registry's. Standard output must not be a terminal.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "save", true)
    if #rest == 0 then cli.fail("usage: bocker save [-o FILE] IMAGE...") end
    local path = o.output or "-"
    if path == "-" and bocker.isatty(1) then
      cli.fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    end
    bocker.image.save(rest, path, { format = o.format })
  end,
}
