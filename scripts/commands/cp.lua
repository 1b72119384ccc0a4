-- bocker cp: files between a container and the host, or a tar stream ('-').
local cli = require "bocker.cli"

local options = {
  ["-a"] = { name = "archive", kind = "flag", help = "into a container: keep the owners (uid/gid) of the copied files\n(default: the container's root owns them)" },
  ["--archive"] = { name = "archive", kind = "flag" },
  ["-L"] = { name = "follow_link", kind = "flag", help = "always follow a symbolic link given as SRC_PATH (inside a container, it is\nresolved inside the container; the copy keeps the link's name)" },
  ["--follow-link"] = { name = "follow_link", kind = "flag" },
}

local usage = "bocker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       bocker cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH"

-- "CTR:/path" → "CTR", "/path"; a local path has no colon before its first slash (./a:b).
local function split(arg)
  local ctr, path = arg:match("^([^/:][^/:]*):(.*)$")
  if ctr then return ctr, path ~= "" and path or "/" end
  return nil, arg
end

return {
  summary = "Copy files/folders between a container and the local filesystem",
  usage = usage,
  options = options,
  help = [[Works on running and stopped containers. '-' as DEST_PATH writes a tar stream to stdout,
as SRC_PATH reads one from stdin (extracted into the directory DEST_PATH). SRC_PATH ending in
'/.' copies a directory's contents. Modes, times and (out of a container, or with -a) owners
are kept. Inside the container every path is resolved with the container's root as '/':
its symlinks never lead out of it. A stopped container's volumes and bind mounts are seen at
their mount points, as when it runs (mounted only for the copy, in no mount namespace).]],
  run = function(args)
    local o, rest = cli.parse(args, options, "cp")
    if #rest ~= 2 then cli.fail("usage: " .. usage) end
    local sctr, spath = split(rest[1])
    local dctr, dpath = split(rest[2])
    if sctr and dctr then cli.fail("copying between containers is not supported") end
    if not sctr and not dctr then cli.fail("one of the paths must be CONTAINER:PATH") end
    if sctr then
      local c = bocker.container.get(sctr)
      local opts = { follow_link = o.follow_link }
      if dpath == "-" then c:copy_out(spath, nil, opts) else c:copy_out(spath, dpath, opts) end
    else
      local c = bocker.container.get(dctr)
      if spath == "-" then
        c:copy_in(nil, dpath, { archive = o.archive })
      else
        c:copy_in(spath, dpath, { archive = o.archive, follow_link = o.follow_link })
      end
    end
  end,
}
