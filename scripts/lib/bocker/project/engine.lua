-- bocker.project.engine: bringing a project to its declarations: p:converge (one service's
-- containers), p:up (the schedule of starts and conditions) and p:down.
local cli = require "bocker.cli"
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project
local graph = require "bocker.project.graph"
local satisfied, natural = graph.satisfied, graph.natural

--- Brings one service's containers to its specs: creates what is missing, recreates what
--- changed, starts what is stopped (a job's container that exited 0 counts as done), and
--- removes replicas beyond the count.
function Project:converge(s, opts)
  local existing = {}
  for _, c in ipairs(self:containers(s.name)) do
    existing[tonumber(c.labels[LABEL_NUMBER]) or 0] = c
  end
  s.live, s.announced = {}, {}
  local changed = false
  for i, spec in ipairs(s.specs) do
    local c = existing[i]
    existing[i] = nil
    local hash = s.hashes[i]
    if not c then
      local ok, other = pcall(bocker.container.get, spec.name)
      if ok then
        raise(s.where, "exists", "service '%s': the container name '%s' is taken by a container that is not part of project '%s' (%s)",
          s.name, spec.name, self.name, other.id)
      end
    end
    local action
    if c and (c.labels[LABEL_HASH] ~= hash or opts.force_recreate) then
      if not opts.no_recreate then
        self:remove_container(c, s.def.stop_timeout or self.stop_timeout)
        c, action = nil, "Recreated"
      end
    end
    if not c then
      local create = copy(spec)
      create.labels[LABEL_PROJECT] = self.name
      create.labels[LABEL_SERVICE] = s.name
      create.labels[LABEL_NUMBER] = tostring(i)
      create.labels[LABEL_HASH] = hash
      local ok, r = pcall(bocker.container.create, create)
      if not ok then raise(s.where, r.code or "invalid_argument", "service '%s': cannot create %s: %s", s.name, spec.name, message_of(r)) end
      c = r
      action = action or "Created"
      changed = true
    end
    c:refresh()
    if c.status == "running" then
      self:say("Container %s  %s", c.name, action or "Running")
    elseif c.status == "exited" and c.exit_code == 0 and s.job and not action then
      self:say("Container %s  Completed", c.name)
      s.announced[i] = true
    else
      local ok, err = pcall(c.start, c)
      if not ok then
        raise(s.where, err.code or "invalid_state", "service '%s': cannot start %s: %s", s.name, c.name, message_of(err))
      end
      if action then self:say("Container %s  %s", c.name, action) end
      self:say("Container %s  Started", c.name)
      changed = true
    end
    s.live[i] = c
  end
  for _, c in pairs(existing) do
    self:remove_container(c, s.def.stop_timeout or self.stop_timeout)
    self:say("Container %s  Removed", c.name)
    changed = true
  end
  local net = self:service_network(s)
  if net.mode == "project" and changed then self:write_hosts(net.net) end
  s.started_at = bocker.now()
end

--- p:up{services = {...}?, remove_orphans=, force_recreate=, no_recreate=, wait = true,
--- sequential = false}: brings the project (or the named services and what they depend on)
--- up. Returns nothing; raises (naming the service and its line) when a service cannot reach
--- its condition. With `sequential`, one node at a time: the next starts only once the last
--- one has reached its own condition (for comparison and debugging).
function Project:up(opts)
  opts = opts or {}
  self:plan()
  -- Which nodes: all, or the named ones and their dependencies.
  local wanted = graph.wanted(self, opts.services)

  -- Orphans: containers of services that are no longer declared.
  if not opts.services or #opts.services == 0 then
    local orphans = {}
    for _, c in ipairs(self:containers()) do
      if not self.services[c.labels[LABEL_SERVICE] or ""] then orphans[#orphans + 1] = c end
    end
    if #orphans > 0 then
      if opts.remove_orphans then
        self:stop_all(orphans, self.stop_timeout)
        for _, c in ipairs(orphans) do
          c:remove { force = true }
          self:say("Container %s  Removed (orphan)", c.name)
        end
      else
        local names = {}
        for _, c in ipairs(orphans) do names[#names + 1] = c.name end
        io.stderr:write(("warning: containers of services that are not declared any more: %s (up --remove-orphans removes them)\n")
          :format(table.concat(names, ", ")))
      end
    end
  end

  local nets, vols = {}, {}
  for _, n in ipairs(self.order) do
    if n.kind == "service" and wanted[n.name] then
      for _, spec in ipairs(n.specs) do
        nets[spec.network] = true
        for _, v in ipairs(spec.volumes or {}) do vols[v:match("^([^:]+)")] = true end
      end
      if #n.specs == 0 then nets[self:service_network(n).real] = true end
    end
  end
  self:ensure_networks(nets)
  self:ensure_volumes(vols)

  -- The schedule: start every node whose dependencies are met, then advance the conditions
  -- that someone waits on (health checks of all services interleave), until everything has
  -- started and (with wait) reached its own condition.
  local pending, waiting_since, started = {}, {}, {}
  for _, n in ipairs(self.order) do
    if wanted[n.name] then pending[#pending + 1] = n end
  end
  local t0 = bocker.now()
  while true do
    local progressed = false
    local now = bocker.now()
    local still = {}
    -- Sequential: nothing starts while a started node has not reached its own condition.
    local busy = false
    if opts.sequential then
      for _, n in ipairs(started) do
        if n.kind == "service" and not satisfied(n, natural(n)) then busy = true end
      end
    end
    for _, n in ipairs(pending) do
      local ready = not busy
      for _, d in ipairs(n.deps) do
        local t = self.services[d.name] or self.tasks[d.name]
        if not satisfied(t, d.condition) then
          ready = false
          waiting_since[n.name] = waiting_since[n.name] or now
          local limit = d.timeout or self.wait_timeout
          if now - waiting_since[n.name] > limit then
            raise(n.where, "invalid_state", "%s '%s' gave up after %gs waiting for '%s' to be %s", n.kind, n.name, limit,
              d.name, d.condition:gsub("_", " "))
          end
        end
      end
      if ready then
        if n.kind == "service" then
          self:converge(n, opts)
        else
          self:say("Task %s  Running", n.name)
          local ok, r, msg = pcall(n.def.run, self)
          if not ok then raise(n.where, "invalid_state", "task '%s' failed: %s", n.name, message_of(r)) end
          if r == false or (r == nil and msg ~= nil) then
            raise(n.where, "invalid_state", "task '%s' failed%s", n.name, msg and (": " .. tostring(msg)) or "")
          end
          n.done = true
          self:say("Task %s  Done", n.name)
        end
        started[#started + 1] = n
        progressed = true
        if opts.sequential then busy = true end
      else
        still[#still + 1] = n
      end
    end
    pending = still

    -- The conditions to advance: those pending nodes wait on, and (with wait, or when one
    -- node at a time) everyone's own.
    local wants = {}
    for _, n in ipairs(pending) do
      for _, d in ipairs(n.deps) do
        local t = self.services[d.name]
        if t and t.live then wants[t] = wants[t] or {}; wants[t][d.condition] = true end
      end
    end
    if opts.wait ~= false or opts.sequential then
      for _, n in ipairs(self.order) do
        if wanted[n.name] and n.kind == "service" and n.live then
          wants[n] = wants[n] or {}
          wants[n][natural(n)] = true
        end
      end
    end
    local next_due, unmet = nil, false
    now = bocker.now()
    for _, n in ipairs(self.order) do
      local w = wants[n]
      if w then
        for cond in pairs(w) do
          if not satisfied(n, cond) then
            local due = self:poll(n, cond, now)
            if not satisfied(n, cond) then
              unmet = true
              if due and (not next_due or due < next_due) then next_due = due end
            else
              progressed = true
            end
          end
        end
      end
    end
    if #pending == 0 and not unmet then break end
    if opts.wait ~= false and unmet and bocker.now() - t0 > (opts.timeout or self.wait_timeout) then
      raise(self.where, "invalid_state", "project '%s' is not up after %gs", self.name, opts.timeout or self.wait_timeout)
    end
    if not progressed then
      local pause = next_due and (next_due - bocker.now()) or 0.02
      if pause > 0 then bocker.sleep(math.min(pause, 1)) end
    end
  end
end

-- down, ps, logs, exec, scale -------------------------------------------------------------------

--- p:down{volumes = bool, timeout = seconds}: removes the project's containers (found by label,
--- whatever the script declares now), its networks and state, and with volumes its volumes.
function Project:down(opts)
  opts = opts or {}
  local list = self:containers()
  self:stop_all(list, opts.timeout or self.stop_timeout)
  for _, c in ipairs(list) do
    local ok, err = pcall(c.remove, c, { force = true })
    if ok then self:say("Container %s  Removed", c.name)
    else io.stderr:write(("cannot remove %s: %s\n"):format(c.name, message_of(err))) end
  end
  local made = self:made()
  local nets = {}
  for _, name in ipairs(self.network_order) do nets[self.networks[name].real] = true end
  for name in pairs(made.network) do nets[name] = true end
  for _, name in ipairs(sorted_keys(nets)) do
    if pcall(bocker.network.get, name) then
      local ok, err = pcall(bocker.network.remove, name)
      if ok then self:say("Network %s  Removed", name)
      else io.stderr:write(("cannot remove network %s: %s\n"):format(name, message_of(err))) end
    end
    os.remove(self:state_dir() .. "/hosts." .. name)
  end
  local failed = false
  if opts.volumes then
    local vols = {}
    for _, name in ipairs(self.volume_order) do
      local v = self.volumes[name]
      if not v.external then vols[v.real] = true end
    end
    for name in pairs(made.volume) do vols[name] = true end
    for _, name in ipairs(sorted_keys(vols)) do
      if pcall(bocker.volume.get, name) then
        local ok, err = pcall(bocker.volume.remove, name)
        if ok then self:say("Volume %s  Removed", name)
        else failed = true io.stderr:write(("cannot remove volume %s: %s\n"):format(name, message_of(err))) end
      end
    end
  end
  if not failed then
    os.remove(self:resources_path())
    os.remove(self:state_dir())
    os.remove(bocker.root() .. "/projects")   -- only when empty
  end
end

return Project
