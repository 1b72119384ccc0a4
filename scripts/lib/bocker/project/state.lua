-- bocker.project.state: what exists: the project's containers (found by label), the record
-- of the networks and volumes it made, its hosts files, and making or stopping those things.
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project

-- What exists -----------------------------------------------------------------------------------

--- The project's containers (from their labels), oldest first. With `service`, only its.
function Project:containers(service)
  local out = {}
  for _, c in ipairs(bocker.container.list()) do
    local l = c.labels
    if l[LABEL_PROJECT] == self.name and (service == nil or l[LABEL_SERVICE] == service) then out[#out + 1] = c end
  end
  table.sort(out, function(a, b)
    local sa, sb = a.labels[LABEL_SERVICE] or "", b.labels[LABEL_SERVICE] or ""
    if sa ~= sb then return sa < sb end
    return (tonumber(a.labels[LABEL_NUMBER]) or 0) < (tonumber(b.labels[LABEL_NUMBER]) or 0)
  end)
  return out
end

--- Replica `i` (default 1) of a service: a Container, or nil. By name first; after a rollout
--- the replica's container may have the other name (PROJECT-SERVICE-i-b), so then by label.
function Project:container(service, i)
  local ok, c = pcall(bocker.container.get, ("%s-%s-%d"):format(self.name, service, i or 1))
  if ok and c.labels[LABEL_PROJECT] == self.name then return c end
  for _, x in ipairs(self:containers(service)) do
    if x.labels[LABEL_NUMBER] == tostring(i or 1) then return x end
  end
  return nil
end

-- The resources the project made, recorded before each is made so that a crash in between
-- still leaves the next `down` knowing about it.
function Project:resources_path() return self:state_dir() .. "/resources" end

function Project:made()
  local made = { network = {}, volume = {} }
  local f = io.open(self:resources_path(), "r")
  if f then
    for line in f:lines() do
      local kind, name = line:match("^(%a+) (.+)$")
      if kind and made[kind] then made[kind][name] = true end
    end
    f:close()
  end
  return made
end

function Project:record(kind, name)
  if self:made()[kind][name] then return end
  ensure_dir(self:state_dir())
  local f = assert(io.open(self:resources_path(), "a"))
  f:write(kind, " ", name, "\n")
  f:close()
end

--- Takes a network or volume off the record (after a rolled-back `up` removed it).
function Project:forget(kind, name)
  local f = io.open(self:resources_path(), "r")
  if not f then return end
  local keep = {}
  for line in f:lines() do
    if line ~= kind .. " " .. name then keep[#keep + 1] = line .. "\n" end
  end
  f:close()
  f = assert(io.open(self:resources_path(), "w"))
  f:write(table.concat(keep))
  f:close()
end

function Project:say(fmt, ...)
  self.out:write(fmt:format(...), "\n")
  self.out:flush()
end

--- Writes the project hosts file of a network: every running container of the project on it,
--- under its service name, SERVICE-N, its container name and id. The file is bind-mounted
--- read-only on /etc/hosts of the project's containers, so it is rewritten in place (same
--- inode), never truncated first: a reader sees the old text or the new one padded with blanks.
function Project:write_hosts(net)
  local lines = { "127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback" }
  for _, c in ipairs(self:containers()) do
    if c.status == "running" and c.network and c.network_mode == net.real then
      local svc, n = c.labels[LABEL_SERVICE], c.labels[LABEL_NUMBER]
      local s = self.services[svc or ""]
      local aliases = s and s.def.aliases and #s.def.aliases > 0 and (" " .. table.concat(s.def.aliases, " ")) or ""
      lines[#lines + 1] = ("%s\t%s %s-%s %s %s%s"):format(c.network.ip, svc, svc, n, c.name, c.id, aliases)
    end
  end
  local text = table.concat(lines, "\n") .. "\n"
  self:write_in_place(self:hosts_path(net), text)
  -- Services with extra_hosts get their own copy with those lines added.
  local gateway
  for _, s in ipairs(self.order) do
    if s.kind == "service" and s.def.extra_hosts and #s.def.extra_hosts > 0 and self:service_network(s).net == net then
      local extra = {}
      for _, h in ipairs(s.def.extra_hosts) do
        local name, ip = h:match("^([^:=]+)[:=](.+)$")
        if ip == "host-gateway" then
          if gateway == nil then
            local ok, n = pcall(bocker.network.get, net.real)
            gateway = ok and n.gateway or false
          end
          ip = gateway or nil
        end
        if ip then extra[#extra + 1] = ip .. "\t" .. name end
      end
      self:write_in_place(self:hosts_path(net, s.name), text .. table.concat(extra, "\n") .. "\n")
    end
  end
end

--- Removes every hosts file of the project (after down, or a rollback that left nothing).
function Project:remove_hosts_files()
  for _, path in ipairs(bocker.fs.glob(self:state_dir() .. "/hosts.*")) do os.remove(path) end
end

--- Rewrites a file that is bind-mounted somewhere in place (same inode), never truncated
--- first: a reader sees the old text or the new one padded with blanks.
function Project:write_in_place(path, text)
  local f = io.open(path, "r+b")
  if not f then
    ensure_dir(self:state_dir())
    f = assert(io.open(path, "wb"))
  end
  local old = f:seek("end")
  f:seek("set", 0)
  if #text < old then text = text .. "#" .. string.rep(" ", old - #text - 2) .. "\n" end
  f:write(text)
  f:close()
end

--- Stops containers together: SIGTERM (or each one's stop signal) to all, then SIGKILL to those
--- still running after `timeout` seconds. A stop request also keeps restart policies from bringing them back.
function Project:stop_all(list, timeout)
  local running = {}
  for _, c in ipairs(list) do
    c:refresh()
    if c.status == "running" then
      -- its stop signal (--stop-signal, the image's StopSignal), as stop sends
      if pcall(c.kill, c, c.stop_signal or "TERM") then running[#running + 1] = c end
    end
  end
  local deadline = bocker.now() + timeout
  while #running > 0 and bocker.now() < deadline do
    local left = {}
    for _, c in ipairs(running) do
      local ok = pcall(c.refresh, c)
      if ok and c.status == "running" then left[#left + 1] = c end
    end
    running = left
    if #running > 0 then bocker.sleep(0.02) end
  end
  for _, c in ipairs(running) do pcall(c.kill, c, "KILL") end
end

function Project:remove_container(c, timeout)
  self:stop_all({ c }, timeout)
  c:remove { force = true }
end

function Project:ensure_networks(needed)
  local made = false
  for _, name in ipairs(self.network_order) do
    local net = self.networks[name]
    if needed[net.real] then
      if net.external then
        if not pcall(bocker.network.get, net.real) then
          raise(net.where or self.where, "not_found", "external network '%s' does not exist (create it with 'bocker network create %s')", net.real, net.real)
        end
      elseif not pcall(bocker.network.get, net.real) then
        self:record("network", net.real)
        local ok, err = pcall(bocker.network.create, { name = net.real, subnet = net.subnet })
        if not ok then raise(net.where or self.where, err.code or "invalid_argument", "network '%s': %s", net.real, message_of(err)) end
        if self.undo then self.undo.network[#self.undo.network + 1] = net end
        self:say("Network %s  Created", net.real)
        made = true
      end
      self:write_hosts(net)
    end
  end
  return made
end

function Project:ensure_volumes(needed)
  for _, name in ipairs(self.volume_order) do
    local v = self.volumes[name]
    if needed[v.real] and not pcall(bocker.volume.get, v.real) then
      if v.external then
        raise(v.where, "not_found", "external volume '%s' does not exist (create it with 'bocker volume create %s')", v.real, v.real)
      end
      self:record("volume", v.real)
      bocker.volume.create { name = v.real }
      if self.undo then self.undo.volume[#self.undo.volume + 1] = v.real end
      self:say("Volume %s  Created", v.real)
    end
  end
end

return Project
