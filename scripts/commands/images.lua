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

-- The names an image is listed under, one row each (an image without names: its source).
local function names_of(img)
  return #img.names > 0 and img.names or { img.source }
end

-- REPOSITORY[:TAG] as Docker's `images busybox` / `images busybox:1.36` take it: the name
-- itself, or any tag of the repository; Docker Hub's short names also match their long form.
local function named(img, ref)
  local forms = { ref }
  if not ref:find("/", 1, true) then forms[2] = "docker.io/library/" .. ref
  elseif not ref:match("^[^/]*[.:]") and not ref:match("^localhost/") then forms[2] = "docker.io/" .. ref end
  for _, n in ipairs(names_of(img)) do
    local repo = n:match("^(.*):[^/:]+$") or n
    for _, f in ipairs(forms) do
      if n == f or repo == f then return true end
    end
  end
  return false
end

-- One --format object: the image under one of its names.
local function object(img, name)
  local repo, tag = name:match("^(.*):([^/:]+)$")
  return {
    ID = img.id, Source = img.source, Layers = #img.layers,
    Repository = repo or name, Tag = tag or "<none>",
    CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(img.created)),
    CreatedSince = cli.ago(img.created),
  }
end

return {
  summary = "List images",
  usage = "bocker images [OPTIONS] [REPOSITORY[:TAG]]",
  options = options,
  help = [[One row per name of an image, as Docker (an image without names: its source).
REPOSITORY lists the images with any tag of it, REPOSITORY:TAG that one.
--format fields: .ID .Source .Repository .Tag .Layers .CreatedAt .CreatedSince]],
  run = function(args)
    local o, rest = cli.parse(args, options, "images")
    if #rest > 1 then cli.fail("usage: bocker images [OPTIONS] [REPOSITORY[:TAG]]") end
    local ref = rest[1]
    local rows, objects = {}, {}
    for _, img in ipairs(bocker.image.list()) do
      if matches(img, o.filter or {}) and (not ref or named(img, ref)) then
        if o.quiet then print(img.id)
        else
          for _, name in ipairs(names_of(img)) do
            if not ref or named({ names = { name }, source = name }, ref) then
              if o.format == "json" then
                local ob = object(img, name)
                print(bocker.json { ID = ob.ID, Source = ob.Source, Layers = ob.Layers, CreatedAt = ob.CreatedAt,
                                    Repository = ob.Repository, Tag = ob.Tag })
              elseif o.format then
                objects[#objects + 1] = object(img, name)
              else
                rows[#rows + 1] = { img.id, name, cli.ago(img.created) }
              end
            end
          end
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
