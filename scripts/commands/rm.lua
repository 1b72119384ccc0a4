-- bocker rm ID...: remove containers (and, as the original, images given by id).
local cli = require "bocker.cli"

local options = {
  ["-f"] = { name = "force", kind = "flag", help = "kill and remove a running container" },
  ["--force"] = { name = "force", kind = "flag" },
  ["-v"] = { name = "volumes", kind = "flag", help = "remove the container's anonymous volumes too" },
  ["--volumes"] = { name = "volumes", kind = "flag" },
}

return {
  summary = "Delete containers (or images)",
  usage = "bocker rm [-f] [-v] <container_id or image_id>...",
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "rm", true)
    if #ids == 0 then cli.fail("usage: bocker rm [-f] <container_id>...") end
    local failed = 0
    for _, id in ipairs(ids) do
      local ok, err = pcall(bocker.container.remove, id, { force = o.force, volumes = o.volumes })
      if not ok and type(err) == "table" and err.code == "not_found" and id:match("^img_") then
        ok, err = pcall(bocker.image.remove, id, { force = o.force })
        if not ok and err.code == "not_found" then
          err = bocker.error("not_found", ("No container named '%s' exists"):format(id))
        end
      end
      if ok then print("Removed: " .. id) else cli.warn(err); failed = failed + 1 end
    end
    return failed > 0 and 1 or 0
  end,
}
