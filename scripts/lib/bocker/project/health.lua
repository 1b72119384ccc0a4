-- bocker.project.health: healthchecks and the other conditions (completed, started): each
-- service's progress, advanced by p:poll while `up` waits.
local U = require "bocker.project.util"
local raise, where_at, message_of, suggestion, sorted_keys = U.raise, U.where_at, U.message_of, U.suggestion, U.sorted_keys
local copy, fnv1a64, needs_shell, ensure_dir = U.copy, U.fnv1a64, U.needs_shell, U.ensure_dir
local LABEL_PROJECT, LABEL_SERVICE, LABEL_NUMBER, LABEL_HASH = U.LABEL_PROJECT, U.LABEL_SERVICE, U.LABEL_NUMBER, U.LABEL_HASH
local M = require "bocker.project.model"
local project, Project = M.project, M.Project

local function tail_of_logs(c, n)
  local ok, entries = pcall(function() return c:logs() end)
  if not ok then return "" end
  local text = {}
  for _, e in ipairs(entries) do text[#text + 1] = e.text end
  local lines = {}
  for line in table.concat(text):gmatch("[^\n]+") do lines[#lines + 1] = line end
  local from = math.max(1, #lines - (n or 3) + 1)
  local out = table.concat(lines, " / ", from)
  if out == "" then return "" end
  return " (last output: " .. out .. ")"
end

-- Conditions: each service's progress towards started / healthy / completed, updated by `poll`.

--- The argv of a check (without its time limit).
local function health_argv(hc)
  local t = hc.test
  local argv
  if type(t) == "string" then argv = { "/bin/sh", "-c", t }
  elseif t[1] == "CMD-SHELL" then argv = { "/bin/sh", "-c", t[2] }
  elseif t[1] == "CMD" then argv = table.move(t, 2, #t, 1, {})
  else argv = copy(t) end
  return argv
end

--- The healthcheck of s with Docker's defaults filled in (interval 30s, timeout 30s, retries 3,
--- start_period 0) for what it does not set.
function Project:health_settings(s)
  local hc, d = s.healthcheck, project.defaults.health
  return {
    interval = hc.interval or d.interval, timeout = hc.timeout or d.timeout,
    retries = hc.retries or d.retries, start_period = hc.start_period or d.start_period,
  }
end

--- Runs one check of a Lua function test (`test = function(c, p) ... end`) on container c:
--- ok, what it said. Command tests are run by the container's monitor, not here.
function Project:check_health(s, c)
  local ok, r, msg = pcall(s.healthcheck.test, c, self)
  if not ok then return false, message_of(r) end
  return r and true or false, msg or ""
end

--- What a check of State.Health.Log said, for messages: "exit code N: output" (the output
--- alone for a check that could not run or outlived its timeout).
local function said_by(entry)
  if not entry then return "" end
  local out = (entry.Output or ""):gsub("%s+$", ""):gsub("\n", " / ")
  if entry.ExitCode == -1 then return out end
  return ("exit code %d%s"):format(entry.ExitCode, out ~= "" and (": " .. out) or "")
end

--- Waits up to `seconds` for something that may change a condition: a health_status, die or
--- start event since `since` (when `up` waits on runtime healthchecks), or just the time.
function Project:idle(seconds, since)
  if seconds <= 0 then return end
  if not self.waits_on_events then bocker.sleep(seconds) return end
  local ok, err = pcall(function()
    for _ in bocker.events { since = since, filters = { event = { "health_status", "die", "start" } }, timeout = seconds } do
      return
    end
  end)
  if not ok and not (type(err) == "table" and err.code == "timeout") then error(err, 0) end
end

--- Advances the conditions of service s; returns the time of its next check (or nil).
--- Raises when s can never reach `want` (unhealthy, exited, failed).
function Project:poll(s, want, now)
  if want == "started" then s.is_started = true return nil end
  if want == "completed_successfully" then
    local all = true
    for _, c in ipairs(s.live) do
      c:refresh()
      if c.status == "exited" then
        -- A record can read "exited" (code 137) for a moment after the process ended and
        -- before its monitor has written the real exit code: wait() returns the settled one.
        c:wait()
        c:refresh()
        if c.exit_code ~= 0 then
          raise(s.where, "invalid_state", "service '%s' did not complete successfully: %s exited with code %d%s",
            s.name, c.name, c.exit_code or -1, tail_of_logs(c))
        end
      else
        all = false
      end
    end
    if all and not s.completed then
      for i, c in ipairs(s.live) do
        if not s.announced[i] then self:say("Container %s  Exited (0)", c.name) end
      end
    end
    s.completed = all
    return not all and now + 0.02 or nil
  end
  -- healthy
  local hs = self:health_settings(s)
  local interval, retries, start_period = hs.interval, hs.retries, hs.start_period
  s.health = s.health or {}
  local all, next_due = true, nil
  for i, c in ipairs(s.live) do
    local h = s.health[i] or { failures = 0, checks = 0, next = now, since = now }
    s.health[i] = h
    if not h.healthy then
      all = false
      -- Runtime checks are looked at on every pass (passes are paced by their events).
      if now >= h.next or type(s.healthcheck.test) ~= "function" then
        c:refresh()
        local policy = "no"
        if c.status ~= "running" then
          local hcfg = c:inspect().HostConfig
          policy = hcfg and hcfg.RestartPolicy and hcfg.RestartPolicy.Name or "no"
        end
        -- Not running and no restart policy to bring it back: it will never be healthy.
        if c.status ~= "running" and (policy == "no" or policy == "") then
          c:wait()
          c:refresh()
          raise(s.where, "invalid_state", "service '%s' is not healthy: %s exited with code %s before its healthcheck passed%s",
            s.name, c.name, tostring(c.exit_code), tail_of_logs(c))
        end
        if type(s.healthcheck.test) == "function" then
          local ok, said = self:check_health(s, c)
          h.checks = h.checks + 1
          if ok then
            h.healthy = true
            self:say("Container %s  Healthy", c.name)
          else
            h.last = said
            if bocker.now() - h.since >= start_period then h.failures = h.failures + 1 end
            if h.failures >= retries then
              raise(s.where, "invalid_state", "service '%s' is unhealthy after %d checks: %s", s.name, h.checks, said)
            end
            h.next = bocker.now() + interval
          end
        else
          -- The container's monitor runs the check; its verdict is in State.Health (and each
          -- change is a health_status event, which `idle` wakes on).
          self.waits_on_events = true
          local st = c:inspect().State.Health
          local log = st and st.Log or {}
          h.checks = st and st.FailingStreak or 0
          h.last = #log > 0 and said_by(log[#log]) or nil
          if st and st.Status == "healthy" then
            h.healthy = true
            self:say("Container %s  Healthy", c.name)
          elseif st and st.Status == "unhealthy" then
            raise(s.where, "invalid_state", "service '%s' is unhealthy after %d checks: %s", s.name, st.FailingStreak, h.last or "")
          else
            h.next = bocker.now() + 1   -- or sooner: `idle` wakes on its events
          end
        end
      end
      if not h.healthy and (not next_due or h.next < next_due) then next_due = h.next end
    end
  end
  s.healthy = all or (function()
    for i in ipairs(s.live) do if not s.health[i].healthy then return false end end
    return true
  end)()
  return next_due
end

return { argv = health_argv, tail_of_logs = tail_of_logs }
