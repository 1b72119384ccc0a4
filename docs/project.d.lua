---@meta
-- LuaLS annotations for require "bocker.project" (see docs/orchestration.md).
-- The editor cannot see that require "bocker.project" loads this; annotate the local:
--   local project = require "bocker.project" ---@type bocker.projectlib

---@alias bocker.project.Condition
---| "started" | "service_started"
---| "healthy" | "service_healthy"
---| "completed_successfully" | "service_completed_successfully" | "completed"

---@class bocker.project.Dependency
---@field condition? bocker.project.Condition Default "started".
---@field timeout? number Seconds to wait (default: the project's wait_timeout).

---A per-replica value: called with the replica number (1-based) and the service name.
---@alias bocker.project.PerReplica<T> T|fun(i: integer, service: string): T

---@class bocker.project.Healthcheck
---@field test string|string[]|fun(c: bocker.Container, p: bocker.Project): boolean, string? Shell string, {"CMD", ...}, {"CMD-SHELL", s}, {"NONE"}, an argv list, or Lua.
---@field interval? number Seconds between checks (default 30, as Docker).
---@field timeout? number Seconds one check may take (default 30); runs it under the image's `timeout N` (bare without one).
---@field retries? integer Consecutive failures after start_period that make it unhealthy (default 3).
---@field start_period? number Seconds after start during which failures do not count (default 0).

---@class bocker.project.ServiceDef
---@field image? string Image id or source (required for up).
---@field command? bocker.project.PerReplica<string|string[]> A string with spaces or shell syntax runs under /bin/sh -c.
---@field entrypoint? bocker.project.PerReplica<string|string[]>
---@field env? bocker.project.PerReplica<string[]|table<string, string|number>> {"K=V"} or {K = "V"}.
---@field env_file? bocker.project.PerReplica<string|(string|{path: string, required?: boolean})[]>
---@field ports? bocker.project.PerReplica<string[]> "[IP:]HOST:CONTAINER[/udp]".
---@field volumes? bocker.project.PerReplica<string[]> "NAME:/path[:ro]", "/host:/path[:ro]", "./rel:/path".
---@field tmpfs? bocker.project.PerReplica<string[]>
---@field network? string A declared network (default "default"), or "bridge", "host", "none".
---@field networks? string[] One network name (a container joins one network).
---@field user? bocker.project.PerReplica<string|integer>
---@field workdir? bocker.project.PerReplica<string>
---@field hostname? bocker.project.PerReplica<string>
---@field memory? bocker.project.PerReplica<integer|string> Bytes or "64m".
---@field cpu_shares? bocker.project.PerReplica<integer>
---@field pids_limit? bocker.project.PerReplica<integer>
---@field restart? bocker.project.PerReplica<"no"|"always"|"unless-stopped"|string> Also "on-failure[:N]".
---@field init? bocker.project.PerReplica<boolean> bocker's init as PID 1 (forwards SIGTERM).
---@field labels? bocker.project.PerReplica<table<string, string>> Keys starting with "bocker." are reserved.
---@field replicas? integer Number of containers (default 1).
---@field healthcheck? bocker.project.Healthcheck|string
---@field depends_on? table<string, bocker.project.Condition|bocker.project.Dependency>|string[]
---@field job? boolean One-shot: up waits for exit 0; an exited-0 container is left alone.
---@field stop_timeout? number Seconds between SIGTERM and SIGKILL for this service.
---@field kube_image? string What `export kube` writes as the image.
---@field expose? string[] Ports ("5432", "53/udp") served to the other services; `export kube` makes a Service for them.
---@field extra_hosts? string[] "NAME:IP" (or NAME:host-gateway) lines added to its /etc/hosts.
---@field aliases? string[] More names for the service's containers in the project's hosts file.
---@field create? table|fun(i: integer, service: string): table Other options of bocker.container.create (cap_add, cap_drop, read_only, tty, privileged, security_opt, …); not those the project sets itself.

---A declared service (what p:service returns).
---@class bocker.project.Service
---@field kind "service"
---@field name string
---@field def bocker.project.ServiceDef
---@field where string "file.lua:LINE: " of the declaration.
---@field replicas integer
---@field job boolean
---@field specs? table[] After p:plan(): each replica's bocker.container.create options (without bocker.* labels).
---@field hashes? string[] After p:plan(): each replica's config hash.

---@class bocker.project.TaskDef
---@field run fun(p: bocker.Project): (boolean|nil), string? Return false (or nil, message) or raise to fail.
---@field depends_on? table<string, bocker.project.Condition|bocker.project.Dependency>|string[]

---@class bocker.project.Task
---@field kind "task"
---@field name string
---@field where string

---@class bocker.project.NewOptions
---@field name? string Lower-case letters, digits and "-" (default: the script's folder name).
---@field dir? string Base of relative paths (default: the script's folder).
---@field wait_timeout? number Seconds a dependent waits for a condition, and the default timeout of up and rollout (default 120).
---@field stop_timeout? number Seconds between SIGTERM and SIGKILL (default 10).

---@class bocker.project.UpOptions
---@field services? string[] Only these (and what they depend on).
---@field remove_orphans? boolean Remove containers of services no longer declared.
---@field force_recreate? boolean
---@field no_recreate? boolean
---@field wait? boolean Default true: wait until every service reaches its own condition.
---@field timeout? number Seconds the whole up may take (default: wait_timeout); then it raises a `timeout` error naming the service.
---@field sequential? boolean Start one service at a time, each once the last reached its own condition.
---@field rollback? boolean Default true: a failed up stops and removes what it created or started.

---@class bocker.project.RolloutOptions
---@field timeout? number Seconds each new container may take to be healthy (default: wait_timeout).
---@field force? boolean Replace every replica, changed or not.
---@field on_step? fun(p: bocker.Project, i: integer, new: bocker.Container, old: bocker.Container?) After replica i is replaced.

---@class bocker.project.DownOptions
---@field volumes? boolean Remove the project's named volumes too (not external ones).
---@field timeout? integer Seconds between SIGTERM and SIGKILL.

---@class bocker.project.ExecOptions: bocker.ExecOptions
---@field index? integer Replica number (default 1).
---@field capture? boolean Return code, stdout, stderr instead of using this terminal.

---@class bocker.Project
---@field name string
---@field dir string
---@field services table<string, bocker.project.Service>
---@field tasks table<string, bocker.project.Task>
local Project = {}

---Declares a service: p:service "web" { ... } or p:service("web", { ... }).
---@param name string
---@param def? bocker.project.ServiceDef
---@return bocker.project.Service|fun(def: bocker.project.ServiceDef): bocker.project.Service
function Project:service(name, def) end

---Declares a task (Lua code run by up once its dependencies are met).
---@param name string
---@param def? bocker.project.TaskDef
---@return bocker.project.Task|fun(def: bocker.project.TaskDef): bocker.project.Task
function Project:task(name, def) end

---Declares a named volume (PROJECT_name; external: used as it is and never removed).
---@param name string
---@param opts? {external?: boolean, name?: string}
---@return bocker.Project
function Project:volume(name, opts) end

---Declares a project network (PROJECT_name; external: used as it is, never created or removed).
---"default" always exists.
---@param name string
---@param opts? {subnet?: string, external?: boolean, name?: string}
---@return bocker.Project
function Project:network(name, opts) end

---The command line: up / down / ps / logs / exec / scale / rollout / config / export kube. Returns the exit status.
---@param args string[] Usually the global `arg`.
---@return integer
function Project:main(args) end

---@param opts? bocker.project.UpOptions
function Project:up(opts) end

---@param opts? bocker.project.DownOptions
function Project:down(opts) end

---Rolling update of one service behind its healthcheck: for each changed replica, start the new
---container, wait until it is healthy, then stop and remove the old one.
---@param service string
---@param opts? bocker.project.RolloutOptions
function Project:rollout(service, opts) end

---@param opts? {service?: string, quiet?: boolean, json?: boolean}
function Project:ps(opts) end

---@param opts? {services?: string[], follow?: boolean}
function Project:logs(opts) end

---Runs a command in a replica of a service (a string runs with /bin/sh -c).
---@param service string
---@param cmd string|string[]
---@param opts? bocker.project.ExecOptions
---@return integer code
---@return string? stdout With capture.
---@return string? stderr With capture.
function Project:exec(service, cmd, opts) end

---Replica i (default 1) of a service (by label: after a rollout it may be named PROJECT-SERVICE-i-b), or nil.
---@param service string
---@param i? integer
---@return bocker.Container?
function Project:container(service, i) end

---The project's containers (of one service), sorted by service and number.
---@param service? string
---@return bocker.Container[]
function Project:containers(service) end

---Checks and resolves everything (fills each service's specs and hashes); changes nothing.
---@param opts? {images?: boolean}
function Project:plan(opts) end

---The resolved project (what `config` prints as JSON).
---@return table
function Project:config() end

---Kubernetes YAML for the project (what `export kube` prints). `registry`: images that exist
---only here (img_…, folders) become REGISTRY/PROJECT-SERVICE:latest; `bind_mounts`: what a bind
---mount becomes ("emptydir", the default, "pvc" or "hostpath"); `warn`: gets each warning
---(default: stderr).
---@param opts? {registry?: string, bind_mounts?: "emptydir"|"pvc"|"hostpath", warn?: fun(message: string)}
---@return string
function Project:kube(opts) end

---$BOCKER_ROOT/projects/NAME: the project's hosts files and its record of what it made.
---@return string
function Project:state_dir() end

---@class bocker.projectlib
---@field labels {project: string, service: string, number: string, hash: string} The label keys.
---@field defaults {wait_timeout: number, stop_timeout: number, health: {interval: number, timeout: number, retries: integer, start_period: number}} health: Docker's (30, 30, 3, 0).
local projectlib = {}

---@param opts? bocker.project.NewOptions
---@return bocker.Project
function projectlib.new(opts) end
