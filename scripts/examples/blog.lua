#!/usr/bin/env -S bocker script
-- blog.lua: three services as a program.
--   seed    a one-shot job that writes the blog's page into the volume "content"
--   web     busybox httpd serving that volume on host port $BLOG_PORT (8080), with a healthcheck
--   worker  waits until web is healthy, fetches the page from it by service name, exits 0
--
--   bocker init ROOTFS_DIR                      # a busybox root filesystem; prints img_...
--   bocker script blog.lua up IMAGE             # or: BOCKER_EXAMPLE_IMAGE=IMAGE bocker script blog.lua up
--   bocker script blog.lua ps | logs [-f] | exec web cat /data/index.html | down --volumes
--
-- BLOG_TITLE changes what seed writes: `up` then recreates seed only (web keeps running and
-- serves the new page from the shared volume).
local project = require "bocker.project"

-- The image: the first argument after `up` that is not an option, or $BOCKER_EXAMPLE_IMAGE.
local cmd = arg[1]
local image = os.getenv("BOCKER_EXAMPLE_IMAGE")
if cmd == "up" then
  for i = 2, #arg do
    if not arg[i]:find("^%-") then image = table.remove(arg, i) break end
  end
end
if not image and (cmd == "up" or cmd == "scale") then
  io.stderr:write("blog.lua needs an image: make one from a busybox folder with 'bocker init DIR', then\n",
    "  bocker script ", arg[0], " up IMAGE    (or set BOCKER_EXAMPLE_IMAGE=IMAGE)\n")
  return 2
end

local title = os.getenv("BLOG_TITLE") or "Hello from bocker"
local port = tonumber(os.getenv("BLOG_PORT") or "8080")

local p = project.new { name = os.getenv("BLOG_PROJECT") or "blog" }
p:volume "content"

p:service "seed" {
  image = image,
  env = { TITLE = title },
  command = [[mkdir -p /data && printf '<h1>%s</h1>\n' "$TITLE" > /data/index.html && echo "seed: wrote $TITLE"]],
  volumes = { "content:/data" },
}

p:service "web" {
  image = image,
  command = "httpd -f -p 80 -h /data",
  init = true,                                   -- PID 1 forwards SIGTERM: `down` is quick
  volumes = { "content:/data:ro" },
  ports = { port .. ":80" },
  depends_on = { seed = "completed_successfully" },
  healthcheck = { test = "wget -qO- http://127.0.0.1/ >/dev/null", interval = 0.2, timeout = 2, retries = 20 },
  kube_image = "busybox:1.36",
}

p:service "worker" {
  image = image,
  command = [[timeout 5 wget -qO- http://web/ > /tmp/page && grep -q '<h1>' /tmp/page && echo "worker: web says $(cat /tmp/page)"]],
  depends_on = { web = "healthy" },
  job = true,                                    -- runs to completion; `up` waits for exit 0
}

return p:main(arg)
