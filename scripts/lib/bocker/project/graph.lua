-- bocker.project.graph: the dependency graph of services and tasks: checks (undeclared
-- names, self-dependencies, cycles), which nodes an `up` of some services needs, and whether
-- a node's condition holds.
local U = require "bocker.project.util"
local raise, suggestion = U.raise, U.suggestion
local cli = require "bocker.cli"

local graph = {}

--- Checks every dependency of the project (declared, not itself, no cycle, healthy only on a
--- service with a healthcheck) and marks the services others wait on to complete as jobs.
function graph.check(self)
  for _, n in ipairs(self.order) do
    for _, d in ipairs(n.deps) do
      local t = self.services[d.name] or self.tasks[d.name]
      if not t then
        local names = {}
        for _, x in ipairs(self.order) do names[#names + 1] = x.name end
        raise(n.where, "invalid_argument", "%s '%s' depends on '%s', which is not declared%s", n.kind, n.name, d.name,
          suggestion(d.name, names))
      end
      if d.condition == "healthy" and t.kind == "service" and not t.healthcheck then
        raise(n.where, "invalid_argument", "%s '%s' waits for '%s' to be healthy, but '%s' has no healthcheck",
          n.kind, n.name, d.name, d.name)
      end
      if d.name == n.name then raise(n.where, "invalid_argument", "%s '%s' depends on itself", n.kind, n.name) end
    end
  end
  -- Cycles (depth-first, reporting the loop).
  local state = {}
  local function visit(n, path)
    if state[n.name] == "done" then return end
    if state[n.name] == "visiting" then
      local loop = {}
      local start = false
      for _, x in ipairs(path) do
        if x == n.name then start = true end
        if start then loop[#loop + 1] = x end
      end
      loop[#loop + 1] = n.name
      raise(n.where, "invalid_argument", "dependency cycle: %s", table.concat(loop, " -> "))
    end
    state[n.name] = "visiting"
    path[#path + 1] = n.name
    for _, d in ipairs(n.deps) do visit(self.services[d.name] or self.tasks[d.name], path) end
    path[#path] = nil
    state[n.name] = "done"
  end
  for _, n in ipairs(self.order) do visit(n, {}) end

  -- Jobs: services others wait on to complete.
  for _, n in ipairs(self.order) do
    for _, d in ipairs(n.deps) do
      local t = self.services[d.name]
      if t and d.condition == "completed_successfully" then t.job = true end
    end
  end
end

--- The names of the nodes `up` works on: all, or the named ones and what they depend on.
function graph.wanted(self, services)
  local wanted = {}
  if services and #services > 0 then
    local function add(name)
      if wanted[name] then return end
      local n = self.services[name] or self.tasks[name]
      if not n then cli.fail(("no such service: %s"):format(name)) end
      wanted[name] = true
      for _, d in ipairs(n.deps) do add(d.name) end
    end
    for _, name in ipairs(services) do add(name) end
  else
    for _, n in ipairs(self.order) do wanted[n.name] = true end
  end
  return wanted
end

function graph.satisfied(t, condition)
  if t.kind == "task" then return t.done == true end
  if condition == "started" then return t.is_started == true end
  if condition == "healthy" then return t.healthy == true end
  return t.completed == true
end

--- The condition `up` waits for when nobody depends on s: healthy if it has a healthcheck,
--- completed if it is a job, else started.
function graph.natural(s)
  if s.kind == "task" then return "completed_successfully" end
  if s.job then return "completed_successfully" end
  if s.healthcheck then return "healthy" end
  return "started"
end

return graph
