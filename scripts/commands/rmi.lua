-- bocker rmi IMAGE...: remove names or images (Docker's rules), refused while a container uses one, unless -f.
local cli = require "bocker.cli"

local options = {
  ["-f"] = { name = "force", kind = "flag", help = "remove an image even while containers made from it exist, or by id with several names" },
  ["--force"] = { name = "force", kind = "flag" },
}

return {
  summary = "Delete images",
  usage = "bocker rmi [-f] <image_id or name[:tag]>...",
  help = [[A name removes that name; the image goes with its last name. An id removes the image
(with several names only with -f).]],
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "rmi", true)
    if #ids == 0 then cli.fail("usage: bocker rmi [-f] <image_id>...") end
    return cli.each(ids, function(id)
      local _, untagged = bocker.image.remove(id, { force = o.force })
      if untagged then return "Untagged: " .. untagged end
      return "Removed: " .. id
    end)
  end,
}
