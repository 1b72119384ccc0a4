-- bocker network create|ls|rm|inspect: bridge networks for containers.
local cli = require "bocker.cli"
local template = require "bocker.template"

local usage = "bocker network create NAME [--subnet CIDR] [--internal] | ls | rm NAME... | inspect NAME"

local sub = {}

local create_options = {
  ["--subnet"] = { name = "subnet", kind = "value", arg = "CIDR", help = "the network's subnet (default: the next free 10.89.N.0/24)" },
  ["--internal"] = { name = "internal", kind = "flag", help = "no NAT, nothing forwarded beyond its bridge, no published ports" },
}
local ls_options = {
  ["-q"] = { name = "quiet", kind = "flag", help = "only the names" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json or a Go template: .Name .Subnet .Gateway .Bridge .Driver .Scope" },
}

function sub.create(args)
  local o, rest = cli.parse(args, create_options, { name = "network create", usage = "bocker network create [--subnet CIDR] [--internal] NAME" }, true)
  if #rest ~= 1 then cli.fail("usage: bocker network create NAME [--subnet CIDR] [--internal]") end
  local n = bocker.network.create { name = rest[1], subnet = o.subnet, internal = o.internal or false }
  print(n.name)
end

function sub.ls(args)
  local o, rest = cli.parse(args, ls_options, { name = "network ls", usage = "bocker network ls [OPTIONS]" })
  if #rest > 0 then cli.fail("usage: bocker network ls [OPTIONS]") end
  local rows, objects = {}, {}
  for _, n in ipairs(bocker.network.list()) do
    if o.quiet then print(n.name)
    elseif o.format then
      objects[#objects + 1] = { Name = n.name, Subnet = n.subnet, Gateway = n.gateway, Bridge = n.bridge,
                                Driver = "bridge", Scope = "local" }
    else rows[#rows + 1] = { n.name, n.subnet, n.gateway, n.bridge } end
  end
  if o.format then
    local lines = template.format_list(o.format, objects, { Name = "NETWORK" })
    if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
  elseif not o.quiet then cli.table({ "NETWORK", "SUBNET", "GATEWAY", "BRIDGE" }, rows) end
end
sub.list = sub.ls

function sub.rm(args)
  args = select(2, cli.parse(args, {}, { name = "network rm", usage = "bocker network rm NAME..." }, true))
  if #args == 0 then cli.fail("usage: bocker network rm NAME...") end
  return cli.each(args, function(name) bocker.network.remove(name) end)
end
sub.remove = sub.rm

function sub.inspect(args)
  args = select(2, cli.parse(args, {}, { name = "network inspect", usage = "bocker network inspect NAME" }, true))
  if #args ~= 1 then cli.fail("usage: bocker network inspect NAME") end
  local n = bocker.network.get(args[1])
  local members = {}
  for _, c in ipairs(bocker.container.list()) do
    local net = c.network
    if net and net.name == n.name then
      members[#members + 1] = ('    {"Id": "%s", "Name": "%s", "IPv4Address": "%s/%d", "MacAddress": "%s"}')
        :format(c.id, c.name or "", net.ip, net.prefix_length, net.mac)
    end
  end
  print(('[{"Name": "%s", "Subnet": "%s", "Gateway": "%s", "Bridge": "%s", "Internal": %s, "Containers": [\n%s\n]}]')
    :format(n.name, n.subnet, n.gateway, n.bridge, tostring(n.internal), table.concat(members, ",\n")))
end

return {
  summary = "Manage networks (create, ls, rm, inspect)",
  usage = usage,
  help = [[
  create NAME [--subnet CIDR]   a bridge network; containers on it find each other by name
         [--internal]           no NAT, nothing forwarded beyond its bridge, no published ports
  ls [-q] [--format FORMAT]     the networks, 'bridge' (bridge0) first
  rm NAME...                    remove networks no running container uses
  inspect NAME                  the network and its running containers, as JSON]],
  options = {},
  subcommands = { create = create_options, ls = ls_options },
  run = function(args)
    if args[1] == "--help" or args[1] == "-h" then cli.print_help("network"); return 0 end
    local verb = args[1]
    local f = verb and sub[verb]
    if not f then cli.fail("usage: " .. usage) end
    return f(table.move(args, 2, #args, 1, {}))
  end,
}
