-- bocker login [SERVER] -u USER (-p PASS | --password-stdin): store registry credentials.
local cli = require "bocker.cli"

local options = {
  ["-u"] = { name = "user", kind = "value", arg = "USER", help = "the user name" },
  ["--username"] = { name = "user", kind = "value" },
  ["-p"] = { name = "password", kind = "value", arg = "PASSWORD", help = "the password (visible in ps: prefer --password-stdin)" },
  ["--password"] = { name = "password", kind = "value" },
  ["--password-stdin"] = { name = "stdin", kind = "flag", help = "read the password from stdin" },
}

return {
  summary = "Log in to a registry (checked against it, then kept in ~/.config/bocker/auth.json, mode 0600)",
  usage = "bocker login [SERVER] -u USER [-p PASSWORD | --password-stdin]",
  options = options,
  run = function(args)
    local o, rest = cli.parse(args, options, "login", true)
    if not o.user or #rest > 1 then cli.fail("usage: bocker login [SERVER] -u USER [-p PASSWORD | --password-stdin]") end
    local password = o.password
    if o.stdin then password = (io.read("l") or "") end
    if not password or password == "" then cli.fail("login needs a password (-p or --password-stdin)") end
    bocker.image.login(rest[1] or "docker.io", o.user, password)
    print("Login Succeeded")
  end,
}
