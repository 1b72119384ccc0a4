-- bocker.dockerfile.stages: a parsed Dockerfile as build stages (dockerfile.stages and
-- dockerfile.find_stage; see bocker/dockerfile.lua).
--
--   stages(parsed, build_args, opts) → {
--     global_args = { NAME = value },      ARGs before the first FROM, --build-arg applied
--                                          (declared without a value and not given: absent)
--     stages = { { name = "builder" or nil, index = 1, from = "golang:1.22" (expanded),
--                  from_stage = 1 or nil (FROM names an earlier stage), platform = … or nil,
--                  line = N, instructions = { … after this FROM … },
--                  needs = { stage indices this one copies from or builds on } } },
--     unconsumed = { build args no ARG declares, sorted },
--     escape = the Dockerfile's escape token (for dockerfile.expand's opts) }
--   COPY --from=X instructions get from_stage (an index) or from_image (X, an image name).
--   opts: name (for errors, default "Dockerfile"), platform ("linux/amd64": sets the automatic
--   TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT and BUILD* global args).
local lex = require "bocker.dockerfile.lex"

local M = {}

-- Build args Docker accepts without an ARG (the proxy variables).
local PREDEFINED = {}
for _, n in ipairs { "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY" } do
  PREDEFINED[n], PREDEFINED[n:lower()] = true, true
end

local function fail(name, line, msg)
  error(name .. ":" .. line .. ": " .. msg, 0)
end

local function expand(name, line, word, vars, escape)
  local ok, result, _, used = pcall(lex.process, word, vars, { escape = escape })
  if not ok then fail(name, line, result) end
  return result, used
end

function M.stages(parsed, build_args, opts)
  build_args, opts = build_args or {}, opts or {}
  local name, esc = opts.name or "Dockerfile", parsed.escape
  local auto = {}
  if opts.platform then
    local os, arch, variant = opts.platform:match("^([^/]+)/([^/]+)/?(.*)$")
    for _, p in ipairs { "TARGET", "BUILD" } do
      auto[p .. "PLATFORM"], auto[p .. "OS"], auto[p .. "ARCH"] = opts.platform, os, arch
      auto[p .. "VARIANT"] = variant
    end
  end
  local global, global_declared, declared = {}, {}, {}
  local function lookup(n)
    if global_declared[n] then return global[n] end
    return auto[n]
  end
  local plan = { global_args = global, stages = {}, unconsumed = {}, escape = esc }
  local stages, by_name, current = plan.stages, {}, nil
  for _, ins in ipairs(parsed.instructions) do
    if ins.cmd == "ARG" then
      for _, p in ipairs(ins.pairs) do declared[p.key] = true end
    end
    if ins.cmd == "FROM" then
      local image = expand(name, ins.line, ins.image, lookup, esc)
      if image == "" then fail(name, ins.line, "base name (" .. ins.image .. ") should not be blank") end
      local platform
      if ins.flags.platform then
        platform = expand(name, ins.line, ins.flags.platform, lookup, esc)
        if platform == "" then
          fail(name, ins.line, "empty platform value from expression " .. ins.flags.platform)
        end
      end
      if ins.name and by_name[ins.name] then
        fail(name, ins.line, string.format("duplicate stage name %q", ins.name))
      end
      current = { name = ins.name, index = #stages + 1, from = image, platform = platform,
        line = ins.line, instruction = ins, instructions = {}, needs = {} }
      current.from_stage = by_name[image:lower()]
      stages[#stages + 1] = current
      if ins.name then by_name[ins.name] = current.index end
    elseif current then
      current.instructions[#current.instructions + 1] = ins
    else
      for _, p in ipairs(ins.pairs) do
        global_declared[p.key] = true
        if build_args[p.key] ~= nil then
          global[p.key] = tostring(build_args[p.key])
        elseif p.value ~= nil then
          global[p.key] = expand(name, ins.line, p.value, lookup, esc)
        else
          global[p.key] = nil
        end
      end
    end
  end
  -- COPY --from: a stage (by name or 0-based index) or an image.
  for si, st in ipairs(stages) do
    local needs = {}
    if st.from_stage then needs[st.from_stage] = true end
    for _, ins in ipairs(st.instructions) do
      local f = ins.cmd == "COPY" and ins.flags.from
      if f then
        if lex.process(f, {}, { escape = esc }) ~= f then
          fail(name, ins.line, "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
        end
        local idx = by_name[f:lower()]
        if not idx and f:match("^%d+$") then
          idx = tonumber(f) + 1
          if idx > #stages then fail(name, ins.line, "invalid stage index " .. f .. " in COPY --from") end
        end
        if idx == si then fail(name, ins.line, "circular dependency detected on stage: " .. (st.name or tostring(si - 1))) end
        if idx then ins.from_stage, needs[idx] = idx, true else ins.from_image = f end
      end
    end
    for k in pairs(needs) do st.needs[#st.needs + 1] = k end
    table.sort(st.needs)
  end
  -- A stage may copy from a later one, but not in a circle.
  local state = {}
  local function visit(i)
    if state[i] == "done" then return end
    if state[i] == "visiting" then
      local st = stages[i]
      fail(name, st.line, "circular dependency detected on stage: " .. (st.name or tostring(i - 1)))
    end
    state[i] = "visiting"
    for _, j in ipairs(stages[i].needs) do visit(j) end
    state[i] = "done"
  end
  for i = 1, #stages do visit(i) end
  for k in pairs(build_args) do
    if not declared[k] and not PREDEFINED[k] then plan.unconsumed[#plan.unconsumed + 1] = k end
  end
  table.sort(plan.unconsumed)
  return plan
end

--- The stage `key` names: a stage name (any case), a number (1-based, Lua's), a string of
--- digits (0-based, as COPY --from counts), or nil for the last stage (the default target).
function M.find_stage(plan, key)
  local list = plan.stages or plan
  if key == nil then return list[#list] end
  if type(key) == "number" then
    if list[key] then return list[key] end
  else
    local k = tostring(key):lower()
    for _, st in ipairs(list) do
      if st.name == k then return st end
    end
    if k:match("^%d+$") and list[tonumber(k) + 1] then return list[tonumber(k) + 1] end
  end
  local names = {}
  for _, st in ipairs(list) do if st.name then names[#names + 1] = st.name end end
  local msg = string.format("target stage %q could not be found", tostring(key))
  if #names > 0 then msg = msg .. " (stages: " .. table.concat(names, ", ") .. ")" end
  error(msg, 0)
end

return M
