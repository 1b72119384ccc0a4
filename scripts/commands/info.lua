-- bocker info: the containers, images and host, as `docker info`.
local cli = require "bocker.cli"
local template = require "bocker.template"

local options = {
  ["-f"] = { name = "format", kind = "value", arg = "FORMAT",
             help = "json, or a Go template: '{{.ContainersRunning}}', '{{.Driver}}'" },
  ["--format"] = { name = "format", kind = "value" },
}

local function gib(bytes)
  return ("%.4gGiB"):format(bytes / 1024 ^ 3)
end

return {
  summary = "Show system-wide information",
  usage = "bocker info [-f FORMAT]",
  options = options,
  help = [[Counts come from the state root ($BOCKER_ROOT); host facts from the kernel.]],
  run = function(args)
    local o, rest = cli.parse(args, options, "info")
    if #rest > 0 then cli.fail("usage: bocker info [-f FORMAT]") end
    local h = bocker.host_info()
    local counts = { running = 0, paused = 0, stopped = 0, created = 0 }
    local containers = bocker.container.list()
    for _, c in ipairs(containers) do
      -- A paused container counts as paused, not running (as Docker counts).
      if c.paused then counts.paused = counts.paused + 1
      elseif c.status == "running" or c.status == "restarting" then counts.running = counts.running + 1
      elseif c.status == "created" then counts.created = counts.created + 1
      else counts.stopped = counts.stopped + 1 end
    end
    local cgv = bocker.cgroup.version():sub(2)
    local i = {
      Containers = #containers, ContainersRunning = counts.running, ContainersPaused = counts.paused, ContainersStopped = counts.stopped,
      ContainersCreated = counts.created, Images = #bocker.image.list(), Driver = bocker.driver(),
      CgroupDriver = "cgroupfs", CgroupVersion = cgv, KernelVersion = h.kernel,
      OperatingSystem = h.os or "unknown", OSType = "linux", Architecture = h.machine, NCPU = h.cpus,
      MemTotal = h.memory, BockerRootDir = bocker.root(), ServerVersion = h.version,
      Networks = #bocker.network.list(), Volumes = #bocker.volume.list(),
      -- What every container gets unless told otherwise: Docker's default seccomp profile
      -- (when the kernel filters system calls) and no_new_privs.
      SecurityOptions = h.seccomp and { "name=seccomp,profile=builtin", "name=no-new-privileges" }
                        or { "name=no-new-privileges" },
    }
    if o.format then
      io.write(table.concat(template.format_list(o.format, { i }), "\n"), "\n")
      return 0
    end
    local lines = {
      "Client:",
      " Version: " .. h.version .. " (build " .. h.build .. ")",
      "",
      "Runtime:",
      " Containers: " .. i.Containers,
      "  Running: " .. i.ContainersRunning,
      "  Paused: " .. i.ContainersPaused,
      "  Stopped: " .. i.ContainersStopped,
      "  Created: " .. i.ContainersCreated,
      " Images: " .. i.Images,
      " Networks: " .. i.Networks,
      " Volumes: " .. i.Volumes,
      " Server Version: " .. h.version,
      " Storage Driver: " .. i.Driver,
      " Cgroup Driver: cgroupfs",
      " Cgroup Version: " .. cgv,
      " Security Options:",
      " Kernel Version: " .. h.kernel,
      " Operating System: " .. i.OperatingSystem,
      " OSType: linux",
      " Architecture: " .. h.machine,
      " CPUs: " .. h.cpus,
      " Total Memory: " .. gib(h.memory),
      " Bocker Root Dir: " .. i.BockerRootDir,
    }
    local at = 0
    for k, l in ipairs(lines) do if l == " Security Options:" then at = k end end
    local sec = {}
    if h.seccomp then sec = { "  seccomp", "   Profile: builtin" } end
    sec[#sec + 1] = "  no-new-privileges"
    for k = #sec, 1, -1 do table.insert(lines, at + 1, sec[k]) end
    print(table.concat(lines, "\n"))
    return 0
  end,
}
