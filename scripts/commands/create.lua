-- bocker create [OPTIONS] IMAGE [COMMAND [ARG...]]: a new container, not started.
local cli = require "bocker.cli"
local runopts = require "bocker.runopts"

-- run's options (the same table, so both accept and document the same flags), without
-- those that only make sense when it starts now.
local options = {}
for spelling, def in pairs(runopts.options) do
  if def.name ~= "detach" then options[spelling] = def end
end

return {
  summary = "Create a new container (start it later with 'bocker start')",
  usage = "bocker create [OPTIONS] <image> [command [arg...]]",
  options = options,
  help = [[The options are run's (see 'bocker run --help'). Prints the new container's id;
'bocker start -a -i' runs it attached to this terminal later.]],
  error_status = 125,
  run = function(args)
    local o, rest = cli.parse(args, options, "create")
    print(runopts.create(o, rest, "create").id)
    return 0
  end,
}
