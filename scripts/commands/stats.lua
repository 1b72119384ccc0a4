-- bocker stats [OPTIONS] [CONTAINER...]: live CPU, memory, network, block I/O and pids.
local cli = require "bocker.cli"
local template = require "bocker.template"

local options = {
  ["-a"] = { name = "all", kind = "flag", help = "every container (default: the running ones)" },
  ["--all"] = { name = "all", kind = "flag" },
  ["--no-stream"] = { name = "no_stream", kind = "flag", help = "one reading, then exit" },
  ["--no-trunc"] = { name = "no_trunc", kind = "flag", help = "do not truncate (bocker never does)" },
  ["--format"] = { name = "format", kind = "value", arg = "FORMAT",
                   help = "json, a Go template ('{{.Name}} {{.CPUPerc}}'), or 'table ...'" },
}

local headers = { Container = "CONTAINER", ID = "CONTAINER ID", Name = "NAME", CPUPerc = "CPU %",
                  MemUsage = "MEM USAGE / LIMIT", MemPerc = "MEM %", NetIO = "NET I/O", BlockIO = "BLOCK I/O",
                  PIDs = "PIDS" }
local default_format = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"

-- Docker's units: memory in powers of 1024 (MiB), I/O in powers of 1000 (kB).
local function binary(n)
  local units, i = { "B", "KiB", "MiB", "GiB", "TiB" }, 1
  while n >= 1024 and i < #units do n = n / 1024; i = i + 1 end
  return (i == 1 and "%dB" or "%.4g%s"):format(n, units[i])
end

-- One row object from two readings (CPU % is the share of the host's CPU time between them).
local function row(c, before, now)
  local cpu = 0
  if before and now then
    local dc, ds = now.cpu_nanos - before.cpu_nanos, now.system_nanos - before.system_nanos
    if ds > 0 and dc > 0 then cpu = dc / ds * now.online_cpus * 100 end
  end
  local s = now or { memory_usage = 0, memory_limit = 0, net_rx = 0, net_tx = 0, block_read = 0, block_write = 0, pids = 0 }
  local mem_perc = s.memory_limit > 0 and s.memory_usage / s.memory_limit * 100 or 0
  return {
    Container = c.name or c.id, ID = c.id, Name = c.name or "--",
    CPUPerc = ("%.2f%%"):format(cpu), MemUsage = binary(s.memory_usage) .. " / " .. binary(s.memory_limit),
    MemPerc = ("%.2f%%"):format(mem_perc), NetIO = cli.human(s.net_rx) .. " / " .. cli.human(s.net_tx),
    BlockIO = cli.human(s.block_read) .. " / " .. cli.human(s.block_write), PIDs = tostring(s.pids),
  }
end

local function reading(c)
  local ok, s = pcall(c.stats, c)
  return ok and s or nil
end

return {
  summary = "Display a live stream of container(s) resource usage statistics",
  usage = "bocker stats [OPTIONS] [container...]",
  options = options,
  help = [[Without containers: every running one (-a: every one). On a terminal the table is redrawn
every second until interrupted; --no-stream prints one reading. CPU % is the share of one CPU
(100% = one CPU busy) over the last interval; memory without the page cache, as Docker counts.
The limit is the host's memory when there is none. On cgroup v2 without the memory or pids
controller, MEM USAGE is the processes' resident memory and PIDS the processes in the cgroup.
--format fields: .Container .ID .Name .CPUPerc .MemUsage .MemPerc .NetIO .BlockIO .PIDs]],
  run = function(args)
    local o, rest = cli.parse(args, options, "stats", true)
    local list = {}
    if #rest > 0 then
      for _, ref in ipairs(rest) do list[#list + 1] = bocker.container.get(ref) end
    else
      for _, c in ipairs(bocker.container.list()) do
        if o.all or c.status == "running" then list[#list + 1] = c end
      end
    end
    local format = o.format or default_format
    local tty = bocker.isatty(1)
    local previous = {}
    for _, c in ipairs(list) do previous[c.id] = reading(c) end
    while true do
      bocker.sleep(o.no_stream and 0.5 or 1)
      local objects = {}
      for _, c in ipairs(list) do
        local now = reading(c)
        objects[#objects + 1] = row(c, previous[c.id], now)
        previous[c.id] = now
      end
      local lines = template.format_list(format, objects, headers)
      if tty and not o.no_stream then io.write("\27[2J\27[H") end
      if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
      io.stdout:flush()
      if o.no_stream then return 0 end
    end
  end,
}
