-- bocker export [-o FILE] CONTAINER: a container's filesystem as a flat tar.
local cli = require "bocker.cli"

local options = {
  ["-o"] = { name = "output", kind = "value", arg = "FILE", help = "write to FILE instead of standard output" },
  ["--output"] = { name = "output", kind = "value", arg = "FILE" },
}

return {
  summary = "Export a container's filesystem as a tar archive",
  usage = "bocker export [-o FILE] CONTAINER",
  help = [[The image's layers with the container's changes applied, as one tar (what
`bocker import` and `docker import` read). Standard output must not be a terminal.]],
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "export", true)
    if #rest ~= 1 then cli.fail("usage: bocker export [-o FILE] CONTAINER") end
    local path = o.output or "-"
    if path == "-" and bocker.isatty(1) then
      cli.fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    end
    bocker.container.get(rest[1]):export(path)
  end,
}
