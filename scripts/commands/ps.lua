-- bocker ps: every container (as the original), CONTAINER_ID and COMMAND first, with status.
local cli = require "bocker.cli"

local options = {
  ["-a"] = { name = "all", kind = "flag", help = "every container (the default here, as the original)" },
  ["--all"] = { name = "all", kind = "flag" },
  ["-q"] = { name = "quiet", kind = "flag", help = "only the ids" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
  ["-f"] = { name = "filter", kind = "list", arg = "KEY=VALUE",
             help = "id=, name=, label=KEY[=VALUE], status=, ancestor=IMAGE, network= (all must match)" },
  ["--filter"] = { name = "filter", kind = "list" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json, a Go template ('{{.Names}}'), or 'table {{.ID}}\\t{{.Status}}'" },
  ["-n"] = { name = "last", kind = "value", arg = "N", help = "only the N containers created last" },
  ["--last"] = { name = "last", kind = "value" },
  ["-l"] = { name = "latest", kind = "flag", help = "only the container created last" },
  ["--latest"] = { name = "latest", kind = "flag" },
  ["--no-trunc"] = { name = "no_trunc", kind = "flag", help = "do not truncate (bocker never does: ids are 12 digits)" },
}

local filter_keys = { id = true, name = true, label = true, status = true, ancestor = true, network = true }

local function parse_filters(list)
  local out = {}
  for _, f in ipairs(list) do
    local key, value = f:match("^([%w_]+)=(.*)$")
    if not key then cli.fail(("invalid filter '%s': use KEY=VALUE"):format(f)) end
    if not filter_keys[key] then
      cli.fail(("invalid filter '%s': use id=, name=, label=, status=, ancestor= or network="):format(f))
    end
    out[key] = out[key] or {}
    table.insert(out[key], value)
  end
  return out
end

-- Docker's rules: values of one key are alternatives, different keys must all match.
-- `images` remembers each ancestor=IMAGE lookup (one per value, not one per container).
local function test(c, key, value, images)
  if key == "status" then return (c.paused and "paused" or c.status) == value
  elseif key == "name" then return (c.name or ""):find(value, 1, true) ~= nil
  elseif key == "id" then
    return c.id:sub(1, #value) == value or c.id:sub(4, 3 + #value) == value
  elseif key == "label" then
    local k, v = value:match("^([^=]+)=(.*)$")
    if k then return c.labels[k] == v end
    return c.labels[value] ~= nil
  elseif key == "ancestor" then
    if c.image == value or c.image_source == value or c.image_source == value .. ":latest" then return true end
    if images[value] == nil then
      local ok, img = pcall(bocker.image.get, value)
      images[value] = ok and img.id or false
    end
    return images[value] == c.image
  elseif key == "network" then
    return (c.network_mode or "bridge") == value
  end
end

local function matches(c, filters, images)
  for key, values in pairs(filters) do
    local any = false
    for _, v in ipairs(values) do if test(c, key, v, images) then any = true; break end end
    if not any then return false end
  end
  return true
end

-- The object a --format template sees: Docker's field names.
local function row_object(c, ports, now)
  local labels = {}
  for k, v in pairs(c.labels) do labels[#labels + 1] = k .. "=" .. v end
  table.sort(labels)
  local mounts = {}
  for _, m in ipairs(c.mounts) do mounts[#mounts + 1] = m.type == "volume" and m.source or m.destination end
  return {
    ID = c.id, Names = c.name or "", Image = c.image_source, Command = cli.join(c.command),
    CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(c.created)),
    RunningFor = cli.ago(c.created, now), State = c.paused and "paused" or c.status, Status = cli.docker_status(c, now),
    Ports = ports,
    Labels = table.concat(labels, ","), Mounts = table.concat(mounts, ","),
    Networks = c.network_mode or "bridge",
  }
end

return {
  summary = "List containers",
  usage = "bocker ps [OPTIONS]",
  options = options,
  help = [[Lists every container, running or not, as the original did (-a is accepted).
--format fields: .ID .Names .Image .Command .CreatedAt .RunningFor .State .Status .Ports
.Labels .Mounts .Networks (see docs/lua-api.md for the template language).]],
  run = function(args)
    local o, rest = cli.parse(args, options, "ps")
    if #rest > 0 then cli.fail("usage: bocker ps [OPTIONS]") end
    local filters = parse_filters(o.filter or {})
    local last = o.latest and 1 or (o.last and cli.integer(o.last, o.last_spelling, 0)) or nil
    -- Summaries (plain tables through the store's cache), not Container objects: ps of a
    -- thousand containers reads a thousand stamps, not a thousand records.
    local list, images = bocker.container.summaries(), {}
    if next(filters) then
      local all = list
      list = {}
      for _, c in ipairs(all) do
        if matches(c, filters, images) then list[#list + 1] = c end
      end
    end
    if last then   -- the newest N, newest first (Docker's order for -n/-l)
      local newest = {}
      for i = #list, math.max(1, #list - last + 1), -1 do newest[#newest + 1] = list[i] end
      list = newest
    end
    local rows, objects = {}, {}
    local now = bocker.now()
    for _, c in ipairs(list) do
      local ports = c.status == "running" and table.concat(c.ports, ", ") or ""
      if o.quiet then
        print(c.id)
      elseif o.format then
        objects[#objects + 1] = row_object(c, ports, now)
      else
        rows[#rows + 1] = { c.id, cli.join(c.command), c.image_source, cli.ago(c.created, now), cli.status(c, now), ports,
                            c.name or "" }
      end
    end
    if o.quiet then return 0 end
    if o.format then
      local lines = require("bocker.template").format_list(o.format, objects)
      if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
      return 0
    end
    cli.table({ "CONTAINER_ID", "COMMAND", "IMAGE", "CREATED", "STATUS", "PORTS", "NAMES" }, rows)
  end,
}
