-- bocker images: list images, IMAGE_ID and SOURCE first as the original.
local cli = require "bocker.cli"

return {
  summary = "List images",
  usage = "bocker images [-q]",
  run = function(args)
    local o = cli.parse(args, { ["-q"] = { name = "quiet", kind = "flag" },
                                ["--quiet"] = { name = "quiet", kind = "flag" } }, "images")
    local rows = {}
    for _, img in ipairs(bocker.image.list()) do
      if o.quiet then print(img.id) else
        rows[#rows + 1] = { img.id, img.source, cli.ago(img.created) }
      end
    end
    if not o.quiet then cli.table({ "IMAGE_ID", "SOURCE", "CREATED" }, rows) end
  end,
}
