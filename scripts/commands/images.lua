-- bocker images: list images, IMAGE_ID and SOURCE first as the original.
local cli = require "bocker.cli"
local template = require "bocker.template"

local options = {
  ["-q"] = { name = "quiet", kind = "flag", help = "only the ids" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
  ["-f"] = { name = "filter", kind = "list", arg = "KEY=VALUE",
             help = "reference=PATTERN (glob on the source: alpine, 'alpine:3.*'), dangling=true|false" },
  ["--filter"] = { name = "filter", kind = "list" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json, a Go template ('{{.ID}} {{.Source}}'), or 'table {{.ID}}\\t{{.Source}}'" },
}

-- A glob (* and ?) as a Lua pattern matching the whole text.
local function glob(pattern)
  return "^" .. pattern:gsub("[%^%$%(%)%%%.%[%]%+%-]", "%%%0"):gsub("%*", ".*"):gsub("%?", ".") .. "$"
end

local function matches(img, filters)
  for _, f in ipairs(filters) do
    local key, value = f:match("^([%w_]+)=(.*)$")
    if key == "reference" then
      local p, any = glob(value), false
      local names = #img.names > 0 and img.names or { img.source }
      for _, n in ipairs(names) do
        local repo = n:match("^(.*):[^/:]+$") or n
        if n:match(p) or repo:match(p) then any = true end
      end
      if not any then return false end
    elseif key == "dangling" and (value == "true" or value == "false") then
      -- Dangling: an image that has lost its last name to another ("<none>").
      if (#img.names == 0) ~= (value == "true") then return false end
    else
      cli.fail(("invalid filter '%s': use reference=PATTERN or dangling=true|false"):format(f))
    end
  end
  return true
end

local function object(img)
  local repo, tag = img.source:match("^(.*):([^/:]+)$")
  return {
    ID = img.id, Source = img.source, Layers = #img.layers,
    Repository = repo or img.source, Tag = tag or "<none>",
    CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(img.created)),
    CreatedSince = cli.ago(img.created),
  }
end

return {
  summary = "List images",
  usage = "bocker images [OPTIONS]",
  options = options,
  help = [[--format fields: .ID .Source .Repository .Tag .Layers .CreatedAt .CreatedSince]],
  run = function(args)
    local o, rest = cli.parse(args, options, "images")
    if #rest > 0 then cli.fail("usage: bocker images [OPTIONS]") end
    local rows, objects = {}, {}
    for _, img in ipairs(bocker.image.list()) do
      if matches(img, o.filter or {}) then
        if o.quiet then print(img.id)
        elseif o.format == "json" then
          print(bocker.json { ID = img.id, Source = img.source, Layers = #img.layers,
                              CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(img.created)) })
        elseif o.format then
          objects[#objects + 1] = object(img)
        else
          -- One row per name (an image without names shows its source, "<none>").
          local names = img.names
          if #names == 0 then names = { img.source } end
          for _, name in ipairs(names) do rows[#rows + 1] = { img.id, name, cli.ago(img.created) } end
        end
      end
    end
    if o.quiet or o.format == "json" then return 0 end
    if o.format then
      local lines = template.format_list(o.format, objects, { ID = "IMAGE ID", Source = "SOURCE", CreatedSince = "CREATED" })
      if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
      return 0
    end
    cli.table({ "IMAGE_ID", "SOURCE", "CREATED" }, rows)
  end,
}
