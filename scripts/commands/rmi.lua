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
    local failed = 0
    for _, id in ipairs(ids) do
      local ok, err = pcall(bocker.image.remove, id, { force = o.force })
      if ok then print("Removed: " .. id) else cli.warn(err); failed = failed + 1 end
    end
    return failed > 0 and 1 or 0
  end,
}
