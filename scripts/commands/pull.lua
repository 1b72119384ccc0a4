-- bocker pull NAME TAG | bocker pull [REGISTRY/]NAME[:TAG|@DIGEST]: an image from a registry.
local cli = require "bocker.cli"

local function human(n)
  local units, i = { "B", "kB", "MB", "GB" }, 1
  while n >= 1000 and i < #units do n = n / 1000; i = i + 1 end
  return (i == 1 and "%d%s" or "%.4g%s"):format(n, units[i])
end

-- Docker's progress: one line per layer, redrawn in place on a terminal; plain lines (each
-- status change once) when the output is not a terminal.
local function reporter(quiet)
  if quiet then return nil end
  local tty = bocker.isatty(1)
  local order, state = {}, {}
  local drawn = 0
  local function line(id)
    local s = state[id]
    if s.status == "Downloading" and s.total > 0 then
      local width = 40
      local filled = math.floor(width * s.current / s.total)
      local bar = string.rep("=", math.max(filled - 1, 0)) .. (filled > 0 and ">" or "") .. string.rep(" ", width - filled)
      return ("%s: Downloading [%s] %s/%s"):format(id, bar, human(s.current), human(s.total))
    end
    return ("%s: %s"):format(id, s.status)
  end
  return function(ev)
    if not state[ev.layer] then order[#order + 1] = ev.layer end
    local old = state[ev.layer]
    state[ev.layer] = ev
    if tty then
      if drawn > 0 then io.write(("\27[%dA"):format(drawn)) end
      for _, id in ipairs(order) do io.write("\27[2K", line(id), "\n") end
      drawn = #order
      io.flush()
    elseif not old or old.status ~= ev.status then
      print(line(ev.layer))
    end
  end
end

return {
  summary = "Pull an image from a registry (Docker Hub or any OCI registry)",
  usage = "bocker pull [--platform OS/ARCH[/VARIANT]] [-q] NAME[:TAG|@DIGEST]  |  bocker pull NAME TAG",
  help = [[As in the original, `bocker pull centos 7` pulls centos:7 and ends with `Created: img_…`.
Docker Hub is the default registry (`alpine` is docker.io/library/alpine:latest). Plain HTTP is
used only for localhost/127.0.0.1 and for registries listed in $BOCKER_INSECURE_REGISTRIES.
Credentials come from ~/.docker/config.json or `bocker login`.]],
  run = function(args)
    local o, rest = cli.parse(args, {
      ["--platform"] = { name = "platform", kind = "value" },
      ["-q"] = { name = "quiet", kind = "flag" }, ["--quiet"] = { name = "quiet", kind = "flag" },
    }, "pull", true)
    local ref
    if #rest == 2 then ref = rest[1] .. ":" .. rest[2]
    elseif #rest == 1 then ref = rest[1]
    else cli.fail("usage: bocker pull NAME[:TAG] (or: bocker pull NAME TAG)") end
    if not o.quiet then
      local tag = ref:match(":([^/:@]+)$") or (ref:find("@", 1, true) and ref:match("@(.*)$")) or "latest"
      print(("%s: Pulling from %s"):format(tag, (ref:gsub("[:@][^/:]*$", ""))))
    end
    local img, digest, downloaded = bocker.image.pull(ref, { platform = o.platform, progress = reporter(o.quiet) })
    if not o.quiet then
      print("Digest: " .. digest)
      print(downloaded and ("Status: Downloaded newer image for " .. img.source)
                       or ("Status: Image is up to date for " .. img.source))
    end
    print("Created: " .. img.id)
  end,
}
