-- bocker help [COMMAND]: the command list, or one command's usage.
return {
  summary = "Show the commands, or how to use one",
  usage = "bocker help [COMMAND]",
  run = function(args)
    local name = args[1]
    if name then
      local cmd, err = bocker.load_command(name)
      if not cmd then
        if err then error(err, 0) end
        error(bocker.error("not_found", ("bocker: '%s' is not a bocker command. See 'bocker help'."):format(name)), 0)
      end
      require("bocker.cli").print_help(name)
      return 0
    end
    print("Usage: bocker [--debug] [--NAME=VALUE] COMMAND [ARG...]   (bocker --version: the version)")
    print("       bocker script FILE [ARG...]   run a Lua script against the bocker API")
    print("\nCommands:")
    local rows, width = {}, 0
    for _, c in ipairs(bocker.commands()) do
      local ok, cmd = pcall(bocker.load_command, c.name)
      local summary = (ok and type(cmd) == "table" and cmd.summary) or "(cannot load: see bocker help " .. c.name .. ")"
      if c.origin == "user" then summary = summary .. "  [" .. c.path .. "]" end
      rows[#rows + 1] = { c.name, summary }
      width = math.max(width, #c.name)
    end
    for _, r in ipairs(rows) do
      print(("  %s%s   %s"):format(r[1], string.rep(" ", width - #r[1]), r[2]))
    end
    print("\nRun 'bocker help COMMAND' for more on a command.")
    print("Add a command: drop NAME.lua in ~/.config/bocker/commands (or $BOCKER_SCRIPT_PATH).")
    return 0
  end,
}
