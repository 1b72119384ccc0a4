-- bocker.project: multi-container projects written as Lua programs (compose's model, as code).
--
--   local project = require "bocker.project"
--   local p = project.new { name = "blog" }
--   p:volume "content"
--   p:service "web" { image = IMG, command = "httpd -f -p 80 -h /data", volumes = { "content:/data" },
--                     ports = { "8080:80" }, healthcheck = { test = "wget -qO- http://127.0.0.1/" } }
--   return p:main(arg)      -- up / down / ps / logs / exec / scale / config / export kube
--
-- Everything a project makes is named after it (containers PROJECT-SERVICE-N, networks
-- PROJECT_NET, volumes PROJECT_VOL) and its containers carry the labels bocker.project,
-- bocker.service, bocker.container-number and bocker.config-hash, so that `up` can find what
-- exists and change only what differs, and `down` can remove exactly what the project made.
-- Pure Lua over the bocker API; see docs/orchestration.md.
--
-- This file is the entry point; the library lives in lib/bocker/project/:
--   util.lua     errors with the user's line, "did you mean", hashing, small helpers
--   model.lua    the project table, the Project type, declarations and their validation
--   graph.lua    the dependency graph: checks, cycles, what an `up` needs, conditions met
--   resolve.lua  declarations → container specs and config hashes (p:plan)
--   state.lua    what exists: containers by label, made networks/volumes, hosts files
--   health.lua   healthchecks and the other conditions (p:poll)
--   engine.lua   p:converge, p:up, p:down
--   rollout.lua  p:rollout (rolling update behind a health gate)
--   views.lua    p:ps, p:logs, p:exec, p:config
--   kube.lua     p:kube (export kube)
--   main.lua     p:main (the command line)
local M = require "bocker.project.model"
require "bocker.project.resolve"
require "bocker.project.state"
require "bocker.project.health"
require "bocker.project.engine"
require "bocker.project.rollout"
require "bocker.project.views"
require "bocker.project.kube"
require "bocker.project.main"
return M.project
