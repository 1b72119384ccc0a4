-- bocker volume create|ls|rm|inspect: named volumes.
local cli = require "bocker.cli"
local template = require "bocker.template"

local usage = "bocker volume create NAME | ls | rm NAME... | inspect NAME..."
local sub = {}

local ls_options = {
  ["-q"] = { name = "quiet", kind = "flag", help = "only the names" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json or a Go template: .Name .Driver .Mountpoint .CreatedAt" },
}

function sub.create(args)
  args = select(2, cli.parse(args, {}, { name = "volume create", usage = "bocker volume create NAME" }, true))
  if #args ~= 1 then cli.fail("usage: bocker volume create NAME") end
  print(bocker.volume.create { name = args[1] }.name)
end

function sub.ls(args)
  local o, rest = cli.parse(args, ls_options, { name = "volume ls", usage = "bocker volume ls [OPTIONS]" })
  if #rest > 0 then cli.fail("usage: bocker volume ls [OPTIONS]") end
  local rows, objects = {}, {}
  for _, v in ipairs(bocker.volume.list()) do
    if o.quiet then print(v.name)
    elseif o.format then
      objects[#objects + 1] = { Name = v.name, Driver = "local", Mountpoint = v.mountpoint,
                                CreatedAt = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(v.created)) }
    else rows[#rows + 1] = { "local", v.name } end
  end
  if o.format then
    local lines = template.format_list(o.format, objects, { Name = "VOLUME NAME" })
    if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
  elseif not o.quiet then cli.table({ "DRIVER", "VOLUME NAME" }, rows) end
end
sub.list = sub.ls

function sub.rm(args)
  args = select(2, cli.parse(args, {}, { name = "volume rm", usage = "bocker volume rm NAME..." }, true))
  if #args == 0 then cli.fail("usage: bocker volume rm NAME...") end
  return cli.each(args, function(name) bocker.volume.remove(name) end)
end
sub.remove = sub.rm

function sub.inspect(args)
  args = select(2, cli.parse(args, {}, { name = "volume inspect", usage = "bocker volume inspect NAME..." }, true))
  if #args == 0 then cli.fail("usage: bocker volume inspect NAME...") end
  local out = {}
  for _, name in ipairs(args) do
    local v = bocker.volume.get(name)
    out[#out + 1] = { Name = v.name, Driver = "local", Mountpoint = v.mountpoint,
                      CreatedAt = os.date("!%Y-%m-%dT%H:%M:%SZ", math.floor(v.created)), UsedBy = v.users }
  end
  print(bocker.json(out, 4))
end

return {
  summary = "Manage volumes (create, ls, rm, inspect)",
  usage = usage,
  options = {},
  subcommands = { ls = ls_options },
  help = [[
  create NAME                   a named volume
  ls [-q] [--format FORMAT]     the volumes
  rm NAME...                    remove volumes no container uses
  inspect NAME...               the volumes, as JSON]],
  run = function(args)
    if args[1] == "--help" or args[1] == "-h" then cli.print_help("volume"); return 0 end
    local f = args[1] and sub[args[1]]
    if not f then cli.fail("usage: " .. usage) end
    return f(table.move(args, 2, #args, 1, {}))
  end,
}
