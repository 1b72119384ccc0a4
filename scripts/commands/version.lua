-- bocker version: this build (client) and what it runs on (runtime), as `docker version`.
local cli = require "bocker.cli"
local template = require "bocker.template"

local options = {
  ["-f"] = { name = "format", kind = "value", arg = "FORMAT",
             help = "json, or a Go template over {Client, Runtime}: '{{.Client.Version}}'" },
  ["--format"] = { name = "format", kind = "value" },
}

local function arch(machine)
  return ({ x86_64 = "amd64", aarch64 = "arm64", armv7l = "arm" })[machine] or machine
end

return {
  summary = "Show the bocker version and what it runs on",
  usage = "bocker version [-f FORMAT]",
  options = options,
  help = [[Runtime facts need the state root ($BOCKER_ROOT); without access to it only the
client part is shown and the exit status is 1.]],
  run = function(args)
    local o, rest = cli.parse(args, options, "version")
    if #rest > 0 then cli.fail("usage: bocker version [-f FORMAT]") end
    local h = bocker.host_info()
    local v = { Client = { Version = h.version, Build = h.build, Swift = h.swift, Lua = h.lua,
                           Os = "linux", Arch = arch(h.machine) } }
    local ok, err = pcall(function()
      v.Runtime = { Version = h.version, KernelVersion = h.kernel, CgroupVersion = bocker.cgroup.version():sub(2),
                    CgroupDriver = "cgroupfs", StorageDriver = bocker.driver(), RootDir = bocker.root() }
    end)
    if o.format then
      local lines = template.format_list(o.format, { v })
      io.write(table.concat(lines, "\n"), "\n")
    else
      print("Client:")
      print(" Version:         " .. h.version)
      print(" Build:           " .. h.build)
      print(" Swift:           " .. h.swift)
      print(" Lua:             " .. h.lua)
      print(" OS/Arch:         linux/" .. arch(h.machine))
      if v.Runtime then
        print("\nRuntime:")
        print(" Version:         " .. h.version)
        print(" Kernel:          " .. h.kernel)
        print(" Cgroup version:  " .. v.Runtime.CgroupVersion)
        print(" Cgroup driver:   cgroupfs")
        print(" Storage driver:  " .. v.Runtime.StorageDriver)
        print(" Root dir:        " .. v.Runtime.RootDir)
      end
    end
    if not ok then cli.warn(err); return 1 end
    return 0
  end,
}
