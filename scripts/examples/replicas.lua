#!/usr/bin/env -S bocker script
-- replicas.lua: what a YAML file cannot say.
--   * a health-gated migration step: once db is healthy, the task "migrate" reads the schema
--     version with exec, and its output and exit code decide whether the deploy continues
--     (it refuses to go back to an older $SCHEMA_VERSION); the apps start only after it;
--   * $REPLICAS replicas of "app" (default 3), each with computed settings (INDEX and ROLE in
--     its environment), serving "app INDEX (ROLE) vVERSION schema N";
--   * a rolling update behind a health gate: `rollout` replaces the replicas one at a time:
--     the new container must be healthy before an old one is stopped and removed, so there are
--     never fewer than $REPLICAS healthy replicas. After each step it prints what runs.
--
--   bocker script replicas.lua up IMAGE                        # or BOCKER_EXAMPLE_IMAGE=IMAGE
--   APP_VERSION=2 bocker script replicas.lua rollout IMAGE      # v1 -> v2, one replica at a time
--   bocker script replicas.lua exec --index 2 app cat /www/index.html
--   bocker script replicas.lua down --volumes
local project = require "bocker.project"

-- The image: the first argument after `up` that is not an option, or $BOCKER_EXAMPLE_IMAGE.
local cmd = arg[1]
local image = os.getenv("BOCKER_EXAMPLE_IMAGE")
if cmd == "up" or cmd == "rollout" then
  for i = 2, #arg do
    if not arg[i]:find("^%-") then image = table.remove(arg, i) break end
  end
end
if not image and (cmd == "up" or cmd == "scale" or cmd == "rollout") then
  io.stderr:write("replicas.lua needs an image: make one from a busybox folder with 'bocker init DIR', then\n",
    "  bocker script ", arg[0], " up IMAGE    (or set BOCKER_EXAMPLE_IMAGE=IMAGE)\n")
  return 2
end

local replicas = tonumber(os.getenv("REPLICAS") or "3")
local target = tonumber(os.getenv("SCHEMA_VERSION") or "2")
local version = os.getenv("APP_VERSION") or "1"

local p = project.new { name = os.getenv("REPLICAS_PROJECT") or "replicas" }
p:volume "db"

-- The "database": a folder in a volume, served over HTTP so that the apps can read it.
p:service "db" {
  image = image,
  command = "mkdir -p /data/www && echo ok > /data/www/health && httpd -f -p 80 -h /data/www",
  init = true,
  volumes = { "db:/data" },
  healthcheck = { test = { "CMD", "wget", "-qO-", "http://127.0.0.1/health" }, interval = 0.2, timeout = 2, retries = 25 },
}

-- The migration: exec in db; what it prints and its exit code decide.
p:task "migrate" {
  depends_on = { db = "healthy" },
  run = function(p)
    local code, out, err = p:exec("db", "cat /data/www/schema 2>/dev/null || echo 0", { capture = true })
    if code ~= 0 then return false, ("cannot read the schema version (exit %d): %s"):format(code, err) end
    local current = tonumber(out:match("^%s*(%d+)%s*$"))
    if not current then return false, ("unexpected schema version %q"):format(out) end
    if current > target then
      return false, ("the database is at schema %d, newer than this deploy's %d: not going back"):format(current, target)
    end
    for v = current + 1, target do
      code, out, err = p:exec("db", ("echo %d > /data/www/schema && echo migrated to %d"):format(v, v), { capture = true })
      if code ~= 0 then return false, ("migration to %d failed (exit %d): %s"):format(v, code, err) end
      io.write("migrate: ", out)
    end
    print(("migrate: schema %d"):format(target))
    return true
  end,
}

p:service "app" {
  image = image,
  replicas = replicas,
  -- Per replica: its number and role. VERSION changes the config hash of every replica.
  env = function(i) return { INDEX = i, ROLE = i == 1 and "primary" or "secondary", VERSION = version } end,
  command = [[mkdir -p /www && echo "app $INDEX ($ROLE) v$VERSION schema $(timeout 5 wget -qO- http://db/schema)" > /www/index.html && exec httpd -f -p 80 -h /www]],
  init = true,
  memory = "64m",
  depends_on = { migrate = "completed_successfully" },
  -- The gate of the rolling update: a replica is healthy once it serves its page.
  healthcheck = { test = "wget -qO- http://127.0.0.1/ >/dev/null", interval = 0.2, timeout = 2, retries = 20 },
}

-- `rollout`: the rolling update, printing the replicas that run after each step.
if cmd == "rollout" then
  p:rollout("app", {
    on_step = function(p, i, new, old)
      local healthy = {}
      for _, c in ipairs(p:containers("app")) do
        if c.status == "running" then healthy[#healthy + 1] = c.name end
      end
      print(("rollout: replica %d replaced (%s -> %s); running: %d (%s)"):format(i, old and old.name or "none", new.name,
        #healthy, table.concat(healthy, " ")))
    end,
  })
  return 0
end

return p:main(arg)
