-- bocker build: an image from a Dockerfile, through the Lua build API (bocker.build). The
-- Dockerfile is parsed by bocker.dockerfile, the context filtered by bocker.dockerignore; each
-- instruction becomes one step of a chain per stage, and the engine runs them (cached) when
-- the target is committed.
local cli = require "bocker.cli"
local dockerfile = require "bocker.dockerfile"
local dockerignore = require "bocker.dockerignore"

local options = {
  ["-f"] = { name = "file", kind = "value", arg = "FILE", help = "the Dockerfile (default: CONTEXT/Dockerfile)" },
  ["--file"] = { name = "file", kind = "value", arg = "FILE" },
  ["-t"] = { name = "tags", kind = "list", arg = "NAME[:TAG]", help = "name the image (repeatable)" },
  ["--tag"] = { name = "tags", kind = "list", arg = "NAME[:TAG]" },
  ["--target"] = { name = "target", kind = "value", arg = "STAGE", help = "build this stage (default: the last)" },
  ["--no-cache"] = { name = "no_cache", kind = "flag", help = "run every step (the results still go into the cache)" },
  ["--pull"] = { name = "pull", kind = "flag", help = "pull the base images even when they are here" },
  ["--build-arg"] = { name = "build_args", kind = "list", arg = "NAME[=VALUE]", help = "set a build argument (VALUE from the environment when left out)" },
  ["-q"] = { name = "quiet", kind = "flag", help = "print only the image id" },
  ["--quiet"] = { name = "quiet", kind = "flag" },
  ["--iidfile"] = { name = "iidfile", kind = "value", arg = "FILE", help = "write the image id to FILE" },
  ["--network"] = { name = "network", kind = "value", arg = "MODE", help = "network of RUN steps: bridge (default), host or none" },
  ["--platform"] = { name = "platform", kind = "value", arg = "OS/ARCH", help = "the platform of base images pulled (RUN steps run only on this machine's)" },
}

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  return text
end

local function basename(p) return (p:match("([^/]+)/*$") or p) end

-- "myapp" → "myapp:latest" (as Docker's "Successfully tagged" shows it).
local function with_tag(name)
  local last = name:match("[^/]+$") or name
  if last:find("[:@]") then return name end
  return name .. ":latest"
end

-- The variables an instruction may expand: the stage's ARGs, then its ENV (ENV wins).
local function scope(args, env)
  local v = {}
  for k, x in pairs(args) do v[k] = x end
  for _, kv in ipairs(env) do v[kv[1]] = kv[2] end
  return v
end

local function env_set(env, k, v)
  for _, kv in ipairs(env) do
    if kv[1] == k then kv[2] = v; return end
  end
  env[#env + 1] = { k, v }
end

-- The image's environment as a list of {key, value}.
local function image_env(img)
  local out = {}
  for _, kv in ipairs((img and img.config.env) or {}) do
    local k, v = kv:match("^([^=]*)=(.*)$")
    if k then out[#out + 1] = { k, v } end
  end
  return out
end

local function copy_env(env)
  local out = {}
  for i, kv in ipairs(env) do out[i] = { kv[1], kv[2] } end
  return out
end

-- Makes the chain of every stage the target needs (stages it copies from or builds on).
local function plan_chains(ctx, plan, target, o, name, included, progress)
  local build_args = o.args
  local chains, states = {}, {}
  local steps = 0
  local function at(ins) return name .. ":" .. ins.line end

  local function stage_chain(st)
    if chains[st.index] then return chains[st.index] end
    for _, j in ipairs(st.needs) do stage_chain(plan.stages[j]) end
    local from_opts = {
      name = st.name, context = ctx, include = included, no_cache = o.no_cache, pull = o.pull,
      network = o.network, progress = progress, display = st.instruction.original, location = at(st.instruction),
    }
    local chain, env, shell
    if st.from_stage then
      chain = bocker.build.from(chains[st.from_stage], from_opts)
      env, shell = copy_env(states[st.from_stage].env), states[st.from_stage].shell
    elseif st.from == "scratch" then
      chain, env = bocker.build.from("scratch", from_opts), {}
    else
      local ok, img = pcall(bocker.image.get, st.from)
      if not ok or o.pull then
        local pok, pulled = pcall(bocker.image.pull, st.from, { platform = st.platform or o.platform })
        if not pok then
          cli.fail(at(st.instruction) .. ": " .. (type(pulled) == "table" and pulled.message or tostring(pulled)))
        end
        img = pulled
      end
      chain = bocker.build.from(img.id, from_opts)
      env = image_env(img)
      shell = nil
    end
    steps = steps + 1
    -- ARGs in scope: none until declared (global ones come in when re-declared).
    local args = {}
    for _, ins in ipairs(st.instructions) do
      local c = ins.cmd
      local vars = scope(args, env)
      local function x(word)
        local ok, r = pcall(dockerfile.expand, word, vars, { escape = plan.escape })
        if not ok then cli.fail(at(ins) .. ": " .. tostring(r)) end
        return r
      end
      local function words(str)
        local ok, r = pcall(dockerfile.words, str, vars, { escape = plan.escape })
        if not ok then cli.fail(at(ins) .. ": " .. tostring(r)) end
        return r
      end
      local so = { display = ins.original, location = at(ins) }
      local function argenv()
        local list = {}
        for k, v in pairs(args) do
          local shadowed = false
          for _, kv in ipairs(env) do if kv[1] == k then shadowed = true end end
          if not shadowed then list[k] = v end
        end
        return next(list) and list or nil
      end
      local counted = true
      if c == "ARG" then
        for _, p in ipairs(ins.pairs) do
          local v
          if build_args[p.key] ~= nil then v = build_args[p.key]
          elseif p.value ~= nil then v = x(p.value)
          else v = plan.global_args[p.key] end
          args[p.key] = v
        end
        counted = false
      elseif c == "ENV" then
        local list = {}
        for _, p in ipairs(ins.pairs) do
          local v = x(p.value)
          list[#list + 1] = p.key .. "=" .. v
          env_set(env, p.key, v)
          vars[p.key] = v
        end
        chain = chain:env(list, so)
      elseif c == "RUN" then
        local cmd
        if ins.json then
          cmd = ins.args
        else
          local text, script = dockerfile.shell_command(ins)
          if not text then cli.fail(at(ins) .. ": RUN with a #! heredoc is not supported in this version") end
          cmd = text
        end
        local net = ins.flags.network
        chain = chain:run(cmd, { network = net ~= "default" and net or nil, env = argenv(), display = so.display, location = so.location })
      elseif c == "COPY" or c == "ADD" then
        local srcs, docs = {}, 0
        for _, s in ipairs(ins.sources) do
          if s.heredoc then
            -- The heredoc's body becomes a file of a small context of its own.
            docs = docs + 1
            o.heredoc_dir = o.heredoc_dir or bocker.fs.tempdir("bocker-build")
            local dir = o.heredoc_dir .. "/" .. ins.line
            bocker.fs.mkdir(dir)
            local body = s.data
            if s.expand then
              local okx, r = pcall(dockerfile.expand, s.data, vars, { skip_quotes = true, escape = plan.escape })
              if not okx then cli.fail(at(ins) .. ": " .. tostring(r)) end
              body = r
            end
            bocker.fs.write(dir .. "/" .. s.heredoc, body)
            srcs[#srcs + 1] = s.heredoc
            o.heredoc_context = dir
          else
            srcs[#srcs + 1] = x(s.path)
          end
        end
        if docs > 0 and docs < #srcs then cli.fail(at(ins) .. ": " .. c .. " cannot mix heredocs and files in this version") end
        local copts = { display = so.display, location = so.location }
        if docs > 0 then copts.context = o.heredoc_context end
        if ins.flags.chown then copts.chown = x(ins.flags.chown) end
        if ins.flags.chmod then copts.chmod = x(ins.flags.chmod) end
        local dest = x(ins.dest)
        if ins.from_stage then
          chain = chain:copy_from(stage_chain(plan.stages[ins.from_stage]), srcs, dest, copts)
        elseif ins.from_image then
          chain = chain:copy_from(ins.from_image, srcs, dest, copts)
        elseif c == "ADD" then
          chain = chain:add(srcs, dest, copts)
        else
          chain = chain:copy(srcs, dest, copts)
        end
      elseif c == "WORKDIR" then
        chain = chain:workdir(x(ins.args[1]), so)
      elseif c == "USER" then
        chain = chain:user(x(ins.args[1]), so)
      elseif c == "CMD" or c == "ENTRYPOINT" then
        local argv = ins.json and ins.args or {}
        if not ins.json then
          for _, a in ipairs(shell or { "/bin/sh", "-c" }) do argv[#argv + 1] = a end
          argv[#argv + 1] = ins.args[1]
        end
        chain = c == "CMD" and chain:cmd(argv, so) or chain:entrypoint(argv, so)
      elseif c == "SHELL" then
        shell = ins.args
        chain = chain:shell(ins.args, so)
      elseif c == "EXPOSE" then
        local ports = {}
        for _, a in ipairs(ins.args) do
          for _, w in ipairs(words(a)) do ports[#ports + 1] = w end
        end
        chain = chain:expose(ports, so)
      elseif c == "LABEL" then
        local list = {}
        for _, p in ipairs(ins.pairs) do list[#list + 1] = x(p.key) .. "=" .. x(p.value) end
        chain = chain:label(list, so)
      elseif c == "VOLUME" then
        local vols = {}
        for _, a in ipairs(ins.args) do
          if ins.json then vols[#vols + 1] = x(a) else for _, w in ipairs(words(a)) do vols[#vols + 1] = w end end
        end
        chain = chain:volume(vols, so)
      elseif c == "STOPSIGNAL" then
        chain = chain:stop_signal(x(ins.args[1]), so)
      elseif c == "HEALTHCHECK" then
        local h = ins.health
        if h.test[1] == "NONE" then
          chain = chain:healthcheck("NONE", so)
        else
          local function sec(ns) return (ns and ns > 0) and ns / 1e9 or nil end
          chain = chain:healthcheck({ test = h.test, interval = sec(h.interval), timeout = sec(h.timeout),
            start_period = sec(h.start_period), start_interval = sec(h.start_interval),
            retries = (h.retries and h.retries > 0) and h.retries or nil }, so)
        end
      elseif c == "ONBUILD" then
        chain = chain:onbuild(ins.args[1], so)
      elseif c == "MAINTAINER" then
        chain = chain:author(ins.author, so)
      else
        cli.fail(at(ins) .. ": " .. c .. " is not supported")
      end
      if counted then steps = steps + 1 end
    end
    chains[st.index] = chain
    states[st.index] = { env = env, shell = shell }
    return chain
  end

  local chain = stage_chain(target)
  return chain, steps
end

return {
  summary = "Build an image from a Dockerfile",
  usage = "bocker build [-f FILE] [-t NAME[:TAG]]... [--target STAGE] [--no-cache] [--pull] [--build-arg K=V]... [-q] [--iidfile FILE] [--network MODE] CONTEXT",
  help = [[Builds the Dockerfile (CONTEXT/Dockerfile, or -f FILE, which may lie outside the
context) with CONTEXT (a directory; .dockerignore applies) as the files COPY and ADD see.
Steps whose instruction and inputs are unchanged come from the build cache (`Using cache`);
`bocker builder prune` empties it. Only the stages the target needs are built, independent
ones in parallel. ADD of URLs is not supported; ADD unpacks local tar archives.]],
  options = options,
  error_status = 1,
  run = function(argv)
    local o, rest = cli.parse(argv, options, "build", true)
    if #rest ~= 1 then cli.fail("bocker build needs exactly one argument: the context directory (see 'bocker build --help')") end
    local ctx = rest[1]
    if ctx == "-" or ctx:match("^%a+://") then cli.fail("the build context must be a local directory, not '" .. ctx .. "'") end
    if not bocker.fs.exists(ctx .. "/.") then cli.fail("unable to prepare context: path '" .. ctx .. "' not found or not a directory") end
    local file = o.file or (ctx .. "/Dockerfile")
    local text = read_file(file)
    if not text then cli.fail("unable to prepare context: cannot read the Dockerfile '" .. file .. "': no such file") end
    local name = basename(file)
    if o.network and not ({ bridge = true, host = true, none = true, default = true })[o.network] then
      cli.fail("invalid --network '" .. o.network .. "': use bridge, host or none")
    end
    if o.network == "default" then o.network = nil end

    o.args = {}
    for _, kv in ipairs(o.build_args or {}) do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if not k then k, v = kv, os.getenv(kv) end
      if v ~= nil then o.args[k] = v end
    end

    local ok, parsed = pcall(dockerfile.parse, text, name)
    if not ok then cli.fail(tostring(type(parsed) == "table" and parsed.message or parsed)) end
    local ok2, plan = pcall(dockerfile.stages, parsed, o.args, { name = name })
    if not ok2 then cli.fail(tostring(type(plan) == "table" and plan.message or plan)) end
    plan.escape = parsed.escape
    local ok3, target = pcall(dockerfile.find_stage, plan, o.target)
    if not ok3 then cli.fail(tostring(target)) end

    -- Without patterns every file is in: no walk (the engine reads only what COPY names).
    local ignore = dockerignore.load(ctx, file)
    local included = #ignore.patterns > 0 and ignore:walk(ctx) or nil

    local quiet = o.quiet
    local n, total = 0, 0
    local function out(line) if not quiet then print(line) end end
    local function progress(e)
      if e.kind == "step" then
        n = n + 1
        out(("Step %d/%d : %s"):format(n, total, e.text))
      elseif e.kind == "cached" then
        out(" ---> Using cache")
      elseif e.kind == "done" then
        out(" ---> " .. e.id)
      elseif e.kind == "output" or e.kind == "pull" then
        out(e.text)
      end
    end
    local chain, steps = plan_chains(ctx, plan, target, o, name, included, progress)
    total = steps
    for _, u in ipairs(plan.unconsumed or {}) do
      if not quiet then io.stderr:write("[Warning] One or more build-args [" .. u .. "] were not consumed\n") end
    end
    local tags = {}
    for _, t in ipairs(o.tags or {}) do tags[#tags + 1] = t end
    local ok4, img = pcall(chain.commit, chain, tags)
    if o.heredoc_dir then bocker.fs.remove(o.heredoc_dir) end
    if not ok4 then error(img, 0) end
    if quiet then print(img.id) else out("Successfully built " .. img.id) end
    for _, t in ipairs(tags) do out("Successfully tagged " .. with_tag(t)) end
    if o.iidfile then
      local f, err = io.open(o.iidfile, "w")
      if not f then cli.fail("cannot write --iidfile '" .. o.iidfile .. "': " .. tostring(err)) end
      f:write(img.id)
      f:close()
    end
  end,
}
