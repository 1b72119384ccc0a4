-- bocker images: list images, IMAGE_ID and SOURCE first as the original.
local cli = require "bocker.cli"

return {
  summary = "List images",
  usage = "bocker images [-q] [--format json]",
  run = function(args)
    local o = cli.parse(args, { ["-q"] = { name = "quiet", kind = "flag" },
                                ["--quiet"] = { name = "quiet", kind = "flag" },
                                ["--format"] = { name = "format", kind = "value" } }, "images")
    if o.format and o.format ~= "json" then cli.fail("--format: only 'json' is supported") end
    local rows = {}
    for _, img in ipairs(bocker.image.list()) do
      if o.quiet then print(img.id)
      elseif o.format == "json" then
        print(bocker.json { ID = img.id, Source = img.source, Layers = #img.layers,
                            CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(img.created)) })
      else
        -- One row per name (an image without names shows its source, "<none>").
        local names = img.names
        if #names == 0 then names = { img.source } end
        for _, name in ipairs(names) do rows[#rows + 1] = { img.id, name, cli.ago(img.created) } end
      end
    end
    if not o.quiet and o.format ~= "json" then cli.table({ "IMAGE_ID", "SOURCE", "CREATED" }, rows) end
  end,
}
