-- bocker.compose: compose files as one more way to describe a bocker.project.
--
--   local compose = require "bocker.compose"
--   local p, active = compose.open { files = { "compose.yaml" }, profiles = { "debug" } }
--   p:up { wait = false }
--
-- The modules:
--   compose/env.lua      .env files and ${VAR} interpolation
--   compose/load.lua     finding, reading (bocker.yaml) and merging the files
--   compose/check.lua    checking values, errors naming their path
--   compose/service.lua  one service → p:service settings (the supported subset; anything else fails)
--   compose/convert.lua  the top level → the project (name, profiles, volumes, networks, configs, secrets)
-- The command line is scripts/commands/compose.lua. See docs/compose.md.
local L = require "bocker.compose.load"
local C = require "bocker.compose.convert"

local compose = {}

--- Loads the files and builds the project. opts: files, env_files, project_dir, name,
--- profiles, targets (see bocker.compose.load and .convert). Returns the project, the active
--- service names, the merged model and the load info (files, dir, get, warnings).
function compose.open(opts)
  opts = opts or {}
  local model, info = L.load(opts)
  for _, w in ipairs(info.warnings) do io.stderr:write("warning: ", w, "\n") end
  local p, active = C.project(model, info, opts)
  return p, active, model, info
end

compose.load, compose.convert = L, C
return compose
