#!/usr/bin/env -S bocker script
-- pipeline.lua: build → test → push → deploy, as one program over the bocker API.
--   1. builds an app image with the Lua build API, in two stages (a builder stage makes the
--      site, the app stage takes only its output), cached: a second run rebuilds nothing
--   2. runs the app's tests in a container made from the image (stops here when they fail)
--   3. pushes the image to REGISTRY (host:port) when one is given, else says it skips that
--   4. brings up a two-service project with it (web serves the site, check is a job that
--      waits for web to be healthy and fetches a page from it by name), then takes it down
--   5. prints the project as Kubernetes YAML
--
--   bocker init ROOTFS_DIR                           # a busybox root filesystem; prints img_...
--   bocker script pipeline.lua IMAGE [REGISTRY]      # or BOCKER_EXAMPLE_IMAGE=IMAGE
local project = require "bocker.project"

local base = arg[1] or os.getenv("BOCKER_EXAMPLE_IMAGE")
local registry = arg[2]
if not base then
  io.stderr:write("usage: bocker script ", arg[0], " IMAGE [REGISTRY]   (IMAGE: a busybox image, see bocker init)\n")
  return 2
end
local version = os.getenv("APP_VERSION") or "1.0"

-- The app's sources (in a real pipeline: the repository checked out).
local src = bocker.fs.tempdir("pipeline")
bocker.fs.write(src .. "/build.sh", [[
set -e
mkdir -p out/www
printf '<h1>pipeline app %s</h1>\n' "$APP_VERSION" > out/www/index.html
echo ok > out/www/health
cp test.sh out/test.sh
]])
bocker.fs.write(src .. "/test.sh", [[
set -e
grep -q '<h1>pipeline app' /srv/www/index.html
[ "$(cat /srv/www/health)" = ok ]
echo "tests passed"
]])

-- 1. Build.
local function show(e)
  if e.kind == "step" then print("  " .. e.text)
  elseif e.kind == "cached" then print("    (cached)")
  elseif e.kind == "output" then print("    | " .. e.text) end
end
local builder = bocker.build.from(base, { name = "builder", context = src, network = "none", progress = show })
  :workdir("/build")
  :copy({ "build.sh", "test.sh" }, "./")
  :run("sh build.sh", { env = { APP_VERSION = version } })
local app = bocker.build.from(base, { name = "app", network = "none", progress = show })
  :copy_from(builder, "/build/out/", "/srv/")
  :env { APP_VERSION = version }
  :expose("80")
  :label { ["org.opencontainers.image.version"] = version }
  :cmd { "httpd", "-f", "-p", "80", "-h", "/srv/www" }
print("==> build")
local img = app:commit("pipeline-app:" .. version)
print("built " .. img.id .. " (pipeline-app:" .. version .. ")")

-- 2. Test, in a container of the image.
print("==> test")
local t = bocker.container.create { image = img.id, cmd = { "sh", "/srv/test.sh" }, network = "none" }
local code = t:run()
t:remove()
if code ~= 0 then
  io.stderr:write("tests failed (exit ", tostring(code), "): nothing pushed or deployed\n")
  return 1
end

-- 3. Push.
print("==> push")
local ref = "pipeline-app:" .. version
if registry and registry ~= "" then
  ref = registry .. "/pipeline/app:" .. version
  img:tag(ref)
  local digest = img:push(ref)
  print("pushed " .. ref .. " " .. digest)
else
  print("no registry given: push skipped")
end

-- 4. Deploy: two services from the image.
print("==> deploy")
local p = project.new { name = "pipeline" }
p:service "web" {
  image = img.id,
  kube_image = ref,
  init = true,
  healthcheck = { test = "wget -qO- http://127.0.0.1/health >/dev/null", interval = 0.2, timeout = 2, retries = 25 },
}
p:service "check" {
  image = img.id,
  kube_image = ref,
  command = [[wget -qO- http://web/ | grep -q 'pipeline app' && echo "check: web serves the app"]],
  depends_on = { web = "healthy" },
  job = true,
}
local ok, err = pcall(p.up, p)
if ok then p:logs { services = { "check" } } end
p:down { volumes = true }
bocker.fs.remove(src)
if not ok then
  io.stderr:write("deploy failed: ", tostring(type(err) == "table" and err.message or err), "\n")
  return 1
end

-- 5. The same project for Kubernetes.
print("==> kubernetes")
io.write(p:kube())
