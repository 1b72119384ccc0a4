-- bocker system prune: remove what nothing uses (exited containers, unused networks, the build cache).
-- bocker system start-restartable: start the containers a reboot stopped (restart policies).
-- bocker system install-service: write the systemd unit that runs start-restartable at boot.
local cli = require "bocker.cli"

local function human(bytes)
  local units, i = { "B", "kB", "MB", "GB", "TB" }, 1
  while bytes >= 1000 and i < #units do bytes = bytes / 1000; i = i + 1 end
  return (i == 1 and "%d%s" or "%.3g%s"):format(bytes, units[i])
end

local prune_options = {
  ["-f"] = { name = "force", kind = "flag", help = "do not ask (bocker never asks)" },
  ["--force"] = { name = "force", kind = "flag" },
  ["-a"] = { name = "all", kind = "flag", help = "accepted for Docker's sake (unused layers always go)" },
  ["--all"] = { name = "all", kind = "flag" },
}

local function prune(args)
  cli.parse(args, prune_options, { name = "system prune", usage = "bocker system prune [-f]" })
  local freed, removed = 0, {}
  for _, c in ipairs(bocker.container.list()) do
    if c.status == "exited" or c.status == "created" then
      local size = c.disk_usage
      if pcall(c.remove, c) then removed[#removed + 1] = c.id; freed = freed + size end
    end
  end
  if #removed > 0 then print("Deleted Containers:\n" .. table.concat(removed, "\n") .. "\n") end
  local nets = {}
  for _, n in ipairs(bocker.network.list()) do
    if not n.builtin and pcall(n.remove, n) then nets[#nets + 1] = n.name end
  end
  if #nets > 0 then print("Deleted Networks:\n" .. table.concat(nets, "\n") .. "\n") end
  local cache = bocker.build.usage()
  local entries = bocker.build.prune()
  if entries > 0 then print(("Deleted build cache objects: %d\n"):format(entries)) end
  freed = freed + cache.bytes
  print("Total reclaimed space: " .. human(freed))
end

-- After a reboot (or whatever killed the monitors) Docker's daemon starts again every
-- container whose policy is `always`, and `unless-stopped` unless the user had stopped it.
-- Opening the store has already recorded the dead ones as exited.
local function start_restartable(args)
  cli.parse(args, {}, { name = "system start-restartable", usage = "bocker system start-restartable" })
  local wanted = {}
  for _, c in ipairs(bocker.container.list()) do
    local policy = c.restart_policy
    if c.status ~= "running" and (policy == "always" or (policy == "unless-stopped" and not c.stop_requested)) then
      wanted[#wanted + 1] = c
    end
  end
  return cli.each(wanted, function(c) c:start(); return c.id end)
end

local install_options = {
  ["--prefix"] = { name = "prefix", kind = "value", arg = "DIR", help = "where the unit goes (default /etc/systemd/system)" },
  ["--bin"] = { name = "bin", kind = "value", arg = "PATH", help = "the bocker binary the unit runs (default: this one)" },
}

-- The unit runs `bocker system start-restartable` once at boot; the monitors it starts stay
-- in the unit's cgroup (KillMode=process: stopping the unit does not kill them).
local function unit_text(bin, root)
  return table.concat({
    "[Unit]",
    "Description=bocker: start the containers whose restart policy is always or unless-stopped",
    "After=network-online.target local-fs.target",
    "Wants=network-online.target",
    "",
    "[Service]",
    "Type=oneshot",
    "RemainAfterExit=yes",
    "KillMode=process",
    "Environment=BOCKER_ROOT=" .. root,
    "ExecStart=" .. bin .. " system start-restartable",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  }, "\n")
end

local function install_service(args)
  local o, rest = cli.parse(args, install_options, { name = "system install-service", usage = "bocker system install-service [--prefix DIR] [--bin PATH]" })
  if #rest > 0 then cli.fail("usage: bocker system install-service [--prefix DIR] [--bin PATH]") end
  local prefix = o.prefix or "/etc/systemd/system"
  local bin = o.bin or bocker.executable()
  for what, v in pairs { ["--prefix"] = prefix, ["--bin"] = bin } do
    if not v:match("^/") or v:find("[%s%c\\]") then cli.fail(("invalid %s '%s': an absolute path without spaces"):format(what, v)) end
  end
  if not bocker.fs.exists(prefix) then cli.fail(("--prefix '%s' does not exist"):format(prefix)) end
  local path = prefix:gsub("/+$", "") .. "/bocker.service"
  bocker.fs.write(path, unit_text(bin, bocker.root()))
  print(path)
  io.stderr:write("Enable it with: systemctl daemon-reload && systemctl enable bocker.service\n")
  return 0
end

return {
  summary = "System maintenance: prune, df, start-restartable, install-service",
  usage = "bocker system prune|df|start-restartable|install-service [OPTIONS]",
  help = [[  prune               remove exited containers, unused networks, the build cache and the layers
                      only they used
  df                  disk usage of images, containers, volumes and the build cache
  start-restartable   start every container whose restart policy is always, or unless-stopped
                      and not stopped by the user (what the systemd unit runs at boot)
  install-service     write bocker.service (systemd) into --prefix (default /etc/systemd/system)]],
  options = {},
  subcommands = { prune = prune_options, df = require("bocker.df").options, ["start-restartable"] = {},
                  ["install-service"] = install_options },
  run = function(args)
    if args[1] == "--help" or args[1] == "-h" then cli.print_help("system"); return 0 end
    local rest = table.move(args, 2, #args, 1, {})
    if args[1] == "prune" then return prune(rest) end
    if args[1] == "df" then return require("bocker.df").run(rest) end
    if args[1] == "start-restartable" then return start_restartable(rest) end
    if args[1] == "install-service" then return install_service(rest) end
    cli.fail("usage: bocker system prune|df|start-restartable|install-service")
  end,
}
