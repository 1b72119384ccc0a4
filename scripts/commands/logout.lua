-- bocker logout [SERVER]: remove the credentials `bocker login` stored for a registry.
local cli = require "bocker.cli"

return {
  summary = "Log out from a registry (remove the credentials bocker login stored)",
  usage = "bocker logout [SERVER]",
  options = {},
  run = function(args)
    local _, rest = cli.parse(args, {}, "logout", true)
    if #rest > 1 then cli.fail("usage: bocker logout [SERVER]") end
    local server = rest[1] or "docker.io"
    if bocker.image.logout(server) then
      print("Removing login credentials for " .. server)
    else
      print("Not logged in to " .. server)
    end
  end,
}
