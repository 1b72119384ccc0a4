-- bocker port CONTAINER [PRIVATE_PORT[/PROTO]]: the container's published ports.
local cli = require "bocker.cli"

return {
  summary = "List port mappings or a specific mapping for the container",
  usage = "bocker port <container> [PRIVATE_PORT[/PROTO]]",
  options = {},
  help = "One line per mapping, as Docker's: 80/tcp -> 0.0.0.0:32768",
  run = function(args)
    args = select(2, cli.parse(args, {}, "port", true))
    if #args < 1 or #args > 2 then cli.fail("usage: bocker port <container> [PRIVATE_PORT[/PROTO]]") end
    local c = bocker.container.get(args[1])
    local want_port, want_proto
    if args[2] then
      want_port, want_proto = args[2]:match("^(%d+)/?(%a*)$")
      if not want_port then cli.fail(("invalid port '%s': use PORT or PORT/PROTO"):format(args[2])) end
      want_port = tonumber(want_port)
      if want_proto == "" then want_proto = "tcp" end
    end
    local found = false
    for _, p in ipairs(c.published_ports) do
      if not want_port then
        print(("%d/%s -> %s:%d"):format(p.container_port, p.proto, p.host_ip, p.host_port))
        found = true
      elseif p.container_port == want_port and p.proto == want_proto then
        print(("%s:%d"):format(p.host_ip, p.host_port))
        found = true
      end
    end
    if want_port and not found then
      cli.fail(("Error: No public port '%d/%s' published for %s"):format(want_port, want_proto, c.name or c.id), 1)
    end
  end,
}
