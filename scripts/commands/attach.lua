-- bocker attach CONTAINER: follow a running container's output here and end with its exit status.
local cli = require "bocker.cli"

local options = {
  ["--no-stdin"] = { name = "no_stdin", kind = "flag", help = "do not attach stdin (bocker never does: see below)" },
}

return {
  summary = "Attach to a running container's output",
  usage = "bocker attach [OPTIONS] <container>",
  options = options,
  help = [[Shows what the container prints from now on (stdout here, stderr on stderr) until it exits;
the exit status is the container's. Interrupting attach leaves the container running. The
container's stdin is not attached: a detached container reads /dev/null (use 'bocker start -ai'
or 'bocker exec -i' for input).]],
  run = function(args)
    local _, rest = cli.parse(args, options, "attach", true)
    if #rest ~= 1 then cli.fail("usage: bocker attach [OPTIONS] <container>") end
    local c = bocker.container.get(rest[1])
    if c.status ~= "running" then cli.fail("You cannot attach to a stopped container, start it first") end
    local _, offset, running = c:logs { offset = 0 }   -- only what comes from now on
    while running do
      local entries
      entries, offset, running = c:logs { offset = offset, wait = true }
      for _, e in ipairs(entries) do
        local out = e.stream == "stderr" and io.stderr or io.stdout
        out:write(e.text)
        out:flush()
      end
    end
    return c:wait()
  end,
}
