-- bocker rmi IMAGE...: remove images (refused while a container uses one, unless -f).
local cli = require "bocker.cli"

return {
  summary = "Delete images",
  usage = "bocker rmi [-f] <image_id>...",
  help = "-f, --force   remove an image even while containers made from it exist",
  run = function(args)
    local o, ids = cli.parse(args, { ["-f"] = { name = "force", kind = "flag" },
                                     ["--force"] = { name = "force", kind = "flag" } }, "rmi")
    if #ids == 0 then cli.fail("usage: bocker rmi [-f] <image_id>...") end
    return cli.each(ids, function(id) bocker.image.remove(id, { force = o.force }); return "Removed: " .. id end)
  end,
}
