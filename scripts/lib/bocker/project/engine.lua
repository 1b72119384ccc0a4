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
  -- A service that joins another's namespaces is made again when that one's containers were
  -- (re)made or started in this run: the namespaces it joined went with the old processes.
  local rejoin = false
  for _, x in ipairs(s.joins or {}) do
    if self.services[x] and self.services[x].changed_now then rejoin = true end
  end
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
    if c and (c.labels[LABEL_HASH] ~= hash or opts.force_recreate or rejoin) then
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
      if self.undo then self.undo.containers[#self.undo.containers + 1] = c end
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
      if self.undo and not action then self.undo.started[#self.undo.started + 1] = c end
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
  s.changed_now = changed
  s.started_at = bocker.now()
end

--- p:up{services = {...}?, remove_orphans=, force_recreate=, no_recreate=, wait = true,
--- timeout = seconds, sequential = false, rollback = true}: brings the project (or the named
--- services and what they depend on) up. Returns nothing; raises (naming the service and its
--- line) when a service cannot reach its condition, or when `timeout` seconds (default: the
--- project's wait_timeout) pass first. On failure, what this call created or started is
--- stopped and removed again, as `down` would (unless rollback = false).
function Project:up(opts)
  opts = opts or {}
  if opts.timeout ~= nil and (type(opts.timeout) ~= "number" or opts.timeout <= 0) then
    error("up: timeout must be a positive number of seconds", 2)
  end
  self:plan()
  for _, s in pairs(self.services) do s.changed_now = nil end
  -- Which nodes: all, or the named ones and their dependencies.
  local wanted = graph.wanted(self, opts.services)
  self.undo = { containers = {}, started = {}, network = {}, volume = {} }
  local ok, err = pcall(self.bring_up, self, wanted, opts)
  local undo = self.undo
  self.undo, self.deadline = nil, nil
  if not ok then
    if opts.rollback ~= false then self:rollback(undo) end
    error(err, 0)
  end
end

--- The schedule of p:up: start every node whose dependencies are met, then advance the
--- conditions that someone waits on (the checks of all services interleave), until everything
--- has started and (with wait) reached its own condition. With `sequential`, one node at a
--- time: the next starts only once the last one has reached its own condition.
function Project:bring_up(wanted, opts)
  local t0 = bocker.now()
  local limit = opts.timeout or self.wait_timeout
  self.deadline = t0 + limit
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

  local pending, waiting_since, started = {}, {}, {}
  for _, n in ipairs(self.order) do
    if wanted[n.name] then pending[#pending + 1] = n end
  end
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
          local dl = d.timeout or self.wait_timeout
          if now - waiting_since[n.name] > dl then
            raise(n.where, "invalid_state", "%s '%s' gave up after %gs waiting for '%s' to be %s", n.kind, n.name, dl,
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
    local next_due, unmet = nil, {}
    now = bocker.now()
    local polled_at = now
    for _, n in ipairs(self.order) do
      local w = wants[n]
      if w then
        for _, cond in ipairs(sorted_keys(w)) do
          if not satisfied(n, cond) then
            local due = self:poll(n, cond, now)
            if not satisfied(n, cond) then
              unmet[#unmet + 1] = { node = n, condition = cond }
              if due and (not next_due or due < next_due) then next_due = due end
            else
              progressed = true
            end
          end
        end
      end
    end
    if #pending == 0 and #unmet == 0 then break end
    if #unmet > 0 and bocker.now() >= self.deadline then self:timed_out(unmet, pending, limit) end
    if not progressed then
      local pause = next_due and (next_due - bocker.now()) or 0.02
      pause = math.min(pause, 1, self.deadline - bocker.now())
      self:idle(pause, polled_at)
    end
  end
end

--- Raises the error of an `up` whose timeout passed: it names the first service still short of
--- a condition (and what its last check said), and the others.
function Project:timed_out(unmet, pending, limit)
  local first = unmet[1]
  local s, cond = first.node, first.condition
  local what = cond == "healthy" and "healthy" or cond == "started" and "started" or "completed successfully"
  local detail = ""
  if cond == "healthy" and s.health then
    for i in ipairs(s.live or {}) do
      local h = s.health[i]
      if h and not h.healthy and h.last then
        detail = (" (%d checks; last: %s)"):format(h.checks, h.last)
        break
      end
    end
  end
  local others = {}
  for k = 2, #unmet do others[#others + 1] = unmet[k].node.name end
  for _, n in ipairs(pending) do others[#others + 1] = n.name end
  raise(s.where, "timeout", "service '%s' is not %s after %gs (up's timeout)%s%s", s.name, what, limit, detail,
    #others > 0 and ("; also waiting: " .. table.concat(others, ", ")) or "")
end

--- Undoes what one `up` made, after it failed: the containers it created are stopped and
--- removed, those it started are stopped, and the networks and volumes it created are removed
--- (as `down` would), so that a failed `up` leaves the project as it found it.
function Project:rollback(undo)
  local stop = {}
  for _, c in ipairs(undo.containers) do stop[#stop + 1] = c end
  for _, c in ipairs(undo.started) do stop[#stop + 1] = c end
  if #stop == 0 and #undo.network == 0 and #undo.volume == 0 then return end
  self:say("Rolling back")
  pcall(self.stop_all, self, stop, self.stop_timeout)
  for _, c in ipairs(undo.containers) do
    local ok, err = pcall(c.remove, c, { force = true })
    if ok then self:say("Container %s  Removed", c.name)
    else io.stderr:write(("cannot remove %s: %s\n"):format(c.name, message_of(err))) end
  end
  for _, c in ipairs(undo.started) do self:say("Container %s  Stopped", c.name) end
  for _, net in ipairs(undo.network) do
    local ok, err = pcall(bocker.network.remove, net.real)
    if ok then
      self:say("Network %s  Removed", net.real)
      os.remove(self:hosts_path(net))
      for _, path in ipairs(bocker.fs.glob(self:hosts_path(net) .. ".*")) do os.remove(path) end
      self:forget("network", net.real)
    else
      io.stderr:write(("cannot remove network %s: %s\n"):format(net.real, message_of(err)))
    end
  end
  for _, name in ipairs(undo.volume) do
    local ok, err = pcall(bocker.volume.remove, name)
    if ok then
      self:say("Volume %s  Removed", name)
      self:forget("volume", name)
    else
      io.stderr:write(("cannot remove volume %s: %s\n"):format(name, message_of(err)))
    end
  end
  -- The hosts files of the networks that stay list only what still runs.
  for _, name in ipairs(self.network_order) do
    local net = self.networks[name]
    local f = io.open(self:hosts_path(net), "r")
    if f then f:close() pcall(self.write_hosts, self, net) end
  end
  -- Nothing of the project left: no state folder either (as after `down`).
  if #self:containers() == 0 and next(self:made().network) == nil and next(self:made().volume) == nil then
    self:remove_hosts_files()
    os.remove(self:resources_path())
    os.remove(self:state_dir())
    os.remove(bocker.root() .. "/projects")   -- only when empty
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
  for _, name in ipairs(self.network_order) do
    if not self.networks[name].external then nets[self.networks[name].real] = true end
  end
  for name in pairs(made.network) do nets[name] = true end
  for _, name in ipairs(sorted_keys(nets)) do
    if pcall(bocker.network.get, name) then
      local ok, err = pcall(bocker.network.remove, name)
      if ok then self:say("Network %s  Removed", name)
      else io.stderr:write(("cannot remove network %s: %s\n"):format(name, message_of(err))) end
    end
    os.remove(self:state_dir() .. "/hosts." .. name)
  end
  self:remove_hosts_files()
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
