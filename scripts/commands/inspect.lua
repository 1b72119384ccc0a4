-- bocker inspect ID...: JSON descriptions, shaped like Docker's.
local cli = require "bocker.cli"
local template = require "bocker.template"

local options = {
  ["-f"] = { name = "format", kind = "value", arg = "TEMPLATE",
             help = "print a Go template over each description: '{{.State.Status}}',\n'{{.NetworkSettings.IPAddress}}', '{{json .Config.Env}}'" },
  ["--format"] = { name = "format", kind = "value" },
}

return {
  summary = "Show low-level information on containers as JSON",
  usage = "bocker inspect [-f TEMPLATE] <container>...",
  options = options,
  run = function(args)
    local o, ids = cli.parse(args, options, "inspect", true)
    if #ids == 0 then cli.fail("usage: bocker inspect <container>...") end
    local render = o.format and o.format ~= "json" and template.compile((o.format:gsub("\\t", "\t"):gsub("\\n", "\n")))
    local parts, failed = {}, 0
    for _, id in ipairs(ids) do
      local ok, text = pcall(function() return bocker.container.get(id):inspect { json = true } end)
      if not ok then cli.warn(text); failed = failed + 1
      elseif render then io.write(render(bocker.json.decode(text)), "\n")
      elseif o.format == "json" then print((bocker.json(bocker.json.decode(text))))
      else parts[#parts + 1] = "    " .. text:gsub("\n", "\n    ") end
    end
    if not render and o.format ~= "json" then print("[\n" .. table.concat(parts, ",\n") .. "\n]") end
    return failed > 0 and 1 or 0
  end,
}
