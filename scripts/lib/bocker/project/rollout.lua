-- bocker.project.rollout: p:rollout, a rolling update behind a health gate. For each replica
-- whose config changed, a new container is started beside the old one, and the old one is
-- stopped and removed only once the new one is healthy: the service never has fewer healthy
-- replicas than it wants.
local U = require "bocker.project.util"
local raise, copy, message_of = U.raise, U.copy, U.message_of
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local Project = M.Project

-- There is no rename: the new container of replica i takes the name the old one does not
-- have, PROJECT-SERVICE-i or PROJECT-SERVICE-i-b, and the two alternate from one rollout to
-- the next. Both carry the labels of replica i and the hash of its canonical spec.
local function other_name(spec, old)
  if old and old.name == spec.name then return spec.name .. "-b" end
  return spec.name
end

--- Waits until container c, the new replica i of s, is healthy; raises (after removing it) if
--- it is not within `timeout` seconds, or can never be.
function Project:wait_healthy(s, c, timeout)
  local probe = setmetatable({ live = { c }, health = {} }, { __index = s })
  self.deadline = bocker.now() + timeout
  local ok, err = pcall(function()
    while not probe.healthy do
      local polled_at = bocker.now()
      local due = self:poll(probe, "healthy", polled_at)
      if probe.healthy then break end
      if bocker.now() >= self.deadline then
        local h = probe.health[1]
        raise(s.where, "timeout", "service '%s': new container %s is not healthy after %gs (rollout's timeout)%s",
          s.name, c.name, timeout, h and h.last and (" (last: " .. h.last .. ")") or "")
      end
      local pause = math.min((due or bocker.now() + 0.05) - bocker.now(), 1, self.deadline - bocker.now())
      self:idle(pause, polled_at)
    end
  end)
  self.deadline = nil
  if not ok then
    self:stop_all({ c }, s.def.stop_timeout or self.stop_timeout)
    pcall(c.remove, c, { force = true })
    self:say("Container %s  Removed (not healthy; the old one keeps running)", c.name)
    error(err, 0)
  end
end

--- p:rollout(service [, {timeout=, force=, on_step=}]): a rolling update of one service. For each
--- replica i whose config hash changed (every one with force): create and start its new
--- container, wait until it is healthy (the service's healthcheck is the gate, so the service
--- needs one), then stop and remove the old one, and call on_step(p, i, new, old). Replicas
--- beyond the count are removed last; missing ones are created. `timeout` (default the
--- project's wait_timeout) bounds each wait. A new container that fails the gate is removed
--- and the rollout stops with an error; the old containers not yet replaced keep running.
function Project:rollout(name, opts)
  opts = opts or {}
  self:plan()
  local s = self.services[name]
  if not s then error(bocker.error("not_found", ("no such service: %s"):format(tostring(name))), 2) end
  if not s.healthcheck then
    raise(s.where, "invalid_argument", "service '%s' has no healthcheck: a rollout needs one as its gate", s.name)
  end
  local timeout = opts.timeout or self.wait_timeout
  local net = self:service_network(s)
  local needed = { [net.real] = true }
  local vols = {}
  for _, spec in ipairs(s.specs) do
    for _, v in ipairs(spec.volumes or {}) do vols[v:match("^([^:]+)")] = true end
  end
  self:ensure_networks(needed)
  self:ensure_volumes(vols)

  local old = {}
  for _, c in ipairs(self:containers(s.name)) do old[tonumber(c.labels[LABEL_NUMBER]) or 0] = c end
  for i, spec in ipairs(s.specs) do
    local o = old[i]
    old[i] = nil
    if o and o.labels[LABEL_HASH] == s.hashes[i] and not opts.force then
      self:say("Container %s  Up to date", o.name)
    else
      local create = copy(spec)
      create.name = other_name(spec, o)
      create.labels[LABEL_PROJECT] = self.name
      create.labels[LABEL_SERVICE] = s.name
      create.labels[LABEL_NUMBER] = tostring(i)
      create.labels[LABEL_HASH] = s.hashes[i]
      local ok, c = pcall(bocker.container.create, create)
      if not ok then raise(s.where, c.code or "invalid_argument", "service '%s': cannot create %s: %s", s.name, create.name, message_of(c)) end
      self:say("Container %s  Created", c.name)
      local started, err = pcall(c.start, c)
      if not started then
        pcall(c.remove, c, { force = true })
        raise(s.where, err.code or "invalid_state", "service '%s': cannot start %s: %s", s.name, c.name, message_of(err))
      end
      self:say("Container %s  Started", c.name)
      if net.mode == "project" then self:write_hosts(net.net) end
      self:wait_healthy(s, c, timeout)
      if o then
        self:stop_all({ o }, s.def.stop_timeout or self.stop_timeout)
        o:remove { force = true }
        self:say("Container %s  Removed", o.name)
        if net.mode == "project" then self:write_hosts(net.net) end
      end
      if opts.on_step then opts.on_step(self, i, c, o) end
    end
  end
  for _, o in pairs(old) do
    self:stop_all({ o }, s.def.stop_timeout or self.stop_timeout)
    o:remove { force = true }
    self:say("Container %s  Removed", o.name)
  end
  if next(old) and net.mode == "project" then self:write_hosts(net.net) end
end

return Project
