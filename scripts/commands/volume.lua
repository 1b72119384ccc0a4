-- bocker volume create|ls|rm|inspect: named volumes.
local cli = require "bocker.cli"

local usage = "bocker volume create NAME | ls | rm NAME... | inspect NAME..."
local sub = {}

function sub.create(args)
  if #args ~= 1 then cli.fail("usage: bocker volume create NAME") end
  print(bocker.volume.create { name = args[1] }.name)
end

function sub.ls(args)
  local o = cli.parse(args, { ["-q"] = { name = "quiet", kind = "flag" } }, "volume")
  local rows = {}
  for _, v in ipairs(bocker.volume.list()) do
    if o.quiet then print(v.name) else rows[#rows + 1] = { "local", v.name } end
  end
  if not o.quiet then cli.table({ "DRIVER", "VOLUME NAME" }, rows) end
end
sub.list = sub.ls

function sub.rm(args)
  if #args == 0 then cli.fail("usage: bocker volume rm NAME...") end
  return cli.each(args, function(name) bocker.volume.remove(name) end)
end
sub.remove = sub.rm

function sub.inspect(args)
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
  run = function(args)
    local f = args[1] and sub[args[1]]
    if not f then cli.fail("usage: " .. usage) end
    return f(table.move(args, 2, #args, 1, {}))
  end,
}
