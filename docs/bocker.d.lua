---@meta
-- LuaLS annotations for bocker's Lua API (see docs/lua-api.md).
-- Point your editor at this file, e.g. in .luarc.json: { "workspace.library": ["docs"] }.
-- This file only describes the API; bocker provides the real one.

-- Errors ------------------------------------------------------------------------------------

---@alias bocker.ErrorCode
---| "not_found"
---| "exists"
---| "invalid_argument"
---| "invalid_state"
---| "in_use"
---| "io"
---| "kernel"
---| "command_not_found"
---| "not_executable"
---| "internal"

---An error raised by the API (catch it with pcall). `tostring(err)` is `where .. message`.
---@class bocker.Error
---@field code bocker.ErrorCode|string What kind of failure; match on this.
---@field message string The one line a user should see.
---@field where? string "file.lua:LINE: " of the calling Lua code ("" when called from C, e.g. by pcall).
---@field status? integer Exit status the error stands for (127 command_not_found, 126 not_executable).

-- Images ------------------------------------------------------------------------------------

---An image's OCI config: the defaults for `run` (every field may be nil).
---@class bocker.ImageConfig
---@field env? string[] "KEY=VALUE" entries.
---@field entrypoint? string[]
---@field cmd? string[]
---@field workdir? string
---@field user? string
---@field exposed_ports? string[] "80/tcp" entries (what -P publishes).
---@field labels? table<string, string>
---@field volumes? string[] Paths that get an anonymous volume at run.
---@field stop_signal? string The signal `stop` sends ("SIGQUIT").
---@field healthcheck? bocker.Healthcheck
---@field shell? string[] The shell of shell-form build instructions.
---@field on_build? string[] Instructions for images built FROM this one.

---@class bocker.Healthcheck
---@field test string[] {"CMD", arg...}, {"CMD-SHELL", "command"} or {"NONE"}.
---@field interval? number Seconds.
---@field timeout? number Seconds.
---@field start_period? number Seconds.
---@field start_interval? number Seconds.
---@field retries? integer

---@class bocker.RemoveOptions
---@field force? boolean Remove even if in use (images) or running (containers; it is killed).
---@field volumes? boolean Containers: also remove its anonymous volumes no other container uses.

---An image (userdata; fields are a snapshot taken when the object was made).
---@class bocker.Image
---@field id string "img_" + 12 hex digits.
---@field source string The directory given to init, the name given to commit or pull ("<none>" when it has no name left).
---@field names string[] Every name: source, then those tag gave it.
---@field digest? string A pulled image's manifest (or index) digest.
---@field manifest? string The digest of its manifest in the blob store (pulled, or pushed once).
---@field config_digest? string Its OCI config's digest, Docker's image id (pulled, loaded, or pushed/saved once).
---@field created number Seconds since the epoch.
---@field layers string[] Layer ids, bottom first.
---@field config bocker.ImageConfig
---@field author? string The OCI config's author (commit -a).
local Image = {}

---Removes this image and the layers nothing else uses (with several names: only with force).
---@param opts? bocker.RemoveOptions
---@return string id The removed image's id.
---@return string? untagged Always nil here (an image object is a reference by id).
function Image:remove(opts) end

---Gives this image another name ([REGISTRY/]NAME[:TAG]); an image that had it loses it.
---@param name string
---@return bocker.Image image
---@return string name The name as recorded ("myapp:latest").
function Image:tag(name) end

---@class bocker.PushEvent
---@field layer string 12 hex digits of the blob's digest.
---@field status string "Preparing", "Pushing", "Pushed", "Layer already exists" or "Mounted from REPO".
---@field current integer Bytes sent.
---@field total integer The blob's size.

---@class bocker.PushOptions
---@field compression? "gzip"|"zstd" For layers packed now (images made by init or commit); default gzip.
---@field progress? fun(ev: bocker.PushEvent) Called on the calling thread.
---@field timeout? number|string The whole push's time limit (seconds or "1m30s"); past it, raises `timeout` and no manifest is put.

---Pushes this image to the registry `target` names ([REGISTRY/]NAME[:TAG]; default: the name
---the image was fetched by). Returns the manifest's digest and size and the reference.
---@param target? string
---@param opts? bocker.PushOptions
---@return string digest
---@return integer size
---@return string reference
function Image:push(target, opts) end

---@class bocker.SaveOptions
---@field format? "docker-archive"|"oci-archive" Default docker-archive (what `docker load` reads).
---@field tags? string[] The names to record for the image (one image only; default: its names).

---Writes this image to an archive at `path` ("-": standard output). See bocker.image.save.
---@param path string
---@param opts? bocker.SaveOptions
function Image:save(path, opts) end

---@class bocker.HistoryEntry
---@field created? string RFC 3339.
---@field created_by? string
---@field author? string
---@field comment? string
---@field empty_layer? boolean

---The image's history from its OCI config, oldest first (empty when it has none; an image made
---here: one entry per layer, as its config will say).
---@return bocker.HistoryEntry[]
function Image:history() end

---@class bocker.ImageInitOptions
---@field source? string What `images` shows as SOURCE (default: the directory's absolute path).

---@class bocker.imagelib
local imagelib = {}

---Every image, oldest first.
---@return bocker.Image[]
function imagelib.list() end

---The image `ref` names: an id, a name (NAME[:TAG], newest holder), NAME@DIGEST, or the start of an id. Raises not_found.
---@param ref string
---@return bocker.Image
function imagelib.get(ref) end

---Makes an image with one layer: a copy of directory `dir`. Raises not_found if it is not a directory.
---@param dir string
---@param opts? bocker.ImageInitOptions
---@return bocker.Image
function imagelib.init(dir, opts) end

---Removes a name or an image (Docker's rules): by one of several names, only that name goes;
---otherwise the image goes. Raises in_use for an id with several names or while a container
---uses it, unless force.
---@param ref string|bocker.Image
---@param opts? bocker.RemoveOptions
---@return string id
---@return string? untagged The name removed when the image stays.
function imagelib.remove(ref, opts) end

---Pulls an image from a registry (Docker Hub names are normalised: "alpine" is
---docker.io/library/alpine:latest). Returns the image, its digest, and whether anything was
---downloaded. `progress` hears {layer=, status=, current=, total=} for each step. Past
---`timeout` (seconds or "1m30s") it raises `timeout`, and nothing of the pull is left.
---@param ref string
---@param opts? {platform?: string, progress?: fun(ev: table), timeout?: number|string}
---@return bocker.Image image
---@return string digest
---@return boolean downloaded
function imagelib.pull(ref, opts) end

---Checks credentials against a registry (unless `verify = false`), then stores them in
---bocker's own file (mode 0600). Returns the registry key they are stored under.
---@param server string
---@param user string
---@param password string
---@param opts? {verify?: boolean}
---@return string server
function imagelib.login(server, user, password, opts) end

---Removes a registry's credentials from bocker's own file; false when there were none.
---@param server string
---@return boolean removed
function imagelib.logout(server) end

---Gives image `ref` the name `name`. See Image:tag.
---@param ref string|bocker.Image
---@param name string
---@return bocker.Image image
---@return string name
function imagelib.tag(ref, name) end

---Pushes image `ref` to `target` (default `ref`). See Image:push.
---@param ref string|bocker.Image
---@param target? string
---@param opts? bocker.PushOptions
---@return string digest
---@return integer size
---@return string reference
function imagelib.push(ref, target, opts) end

---Writes images to one archive at `path` ("-": standard output): docker-archive (Docker 25's
---layout: manifest.json, repositories and an OCI layout) or oci-archive. `images` is an Image,
---a reference or a list of them; a reference records the name it gave (none for an id), an
---Image all its names, `tags` (one image only) exactly those. Layers are the pushed blobs (an
---image made here gets them packed now), so digests agree with a push. No file is left on failure.
---@param images string|bocker.Image|(string|bocker.Image)[]
---@param path string
---@param opts? bocker.SaveOptions
function imagelib.save(images, path, opts) end

---Reads the images of an archive (docker-archive as docker/podman/skopeo write it, or an OCI
---layout tar; plain, gzip or zstd) at `path` (nil or "-": standard input). Returns the images
---and, for each, the names the archive gave it. A bad archive raises and leaves nothing behind.
---@param path? string
---@return bocker.Image[] images
---@return string[][] names
function imagelib.load(path) end

---@class bocker.ImportOptions
---@field ref? string A name for the new image ([REGISTRY/]NAME[:TAG]).
---@field message? string The comment of its history entry (default "Imported from FILE").

---Makes a one-layer image from a flat filesystem tar at `path` (plain, gzip or zstd; "-":
---standard input).
---@param path string
---@param opts? bocker.ImportOptions
---@return bocker.Image
function imagelib.import(path, opts) end

-- Cgroups -----------------------------------------------------------------------------------

---A container's cgroup (one directory per v1 hierarchy, or one on v2).
---@class bocker.Cgroup
---@field version "v1"|"v2"
---@field paths string[] The cgroup directories.
---@field exists boolean Whether a directory is there now.
local Cgroup = {}

---Reads a control file (trimmed), e.g. "memory.limit_in_bytes" (v1) or "memory.max" (v2).
---@param file string A plain file name.
---@return string
function Cgroup:read(file) end

---Writes a control file, e.g. cg:write("cpu.shares", "300").
---@param file string A plain file name.
---@param value string
function Cgroup:write(file, value) end

---Pids of the processes in the cgroup.
---@return integer[]
function Cgroup:pids() end

---@class bocker.cgrouplib
local cgrouplib = {}

---How this host's cgroups are mounted.
---@return "v1"|"v2"
function cgrouplib.version() end

---The cgroup of a container (id, name or object).
---@param ref string|bocker.Container
---@return bocker.Cgroup
function cgrouplib.of(ref) end

-- Containers --------------------------------------------------------------------------------

---@alias bocker.ContainerStatus "created"|"running"|"exited"|"removing"

---@class bocker.Resources
---@field cpu_shares? integer
---@field memory? integer Bytes.
---@field pids_limit? integer

---@class bocker.LogEntry
---@field stream "stdout"|"stderr"
---@field text string Output as it arrived: usually one line, newline included; a line written in pieces (or over 16 KiB) spans several entries.
---@field time string RFC 3339 with nanoseconds, UTC.

---@class bocker.RunOptions
---@field interactive? boolean Give the container this process's stdin (default: /dev/null).
---@field attach? string[] Show only these streams ("stdout", "stderr"); all go to the log.
---@field sig_proxy? boolean Forward signals to the container (default true; false ignores them).

---@class bocker.AttachOptions
---@field stdin? boolean Forward this process's stdin (to a container created with interactive); EOF closes its stdin.
---@field stdout? boolean Show its stdout (default true).
---@field stderr? boolean Show its stderr (default true).
---@field sig_proxy? boolean Forward SIGINT, SIGTERM, ... to it (default true; never with a tty).
---@field detach_keys? string Keys that detach when stdin is a terminal (default "ctrl-p,ctrl-q").
---@field start? boolean Start it first (detached, then attached from its first output): start -a.

---@class bocker.ExecOptions
---@field env? string[] "KEY=VALUE" entries added to the container's environment.
---@field workdir? string An existing directory inside the container.
---@field user? string "name", "uid", "name:group" or "uid:gid" (names from the container's own files).
---@field tty? boolean A new pty of the container's own is the command's stdio (exec -t); not with capture.
---@field detach? boolean Run it in the background (stdio /dev/null) and return 0 at once (exec -d).

---A container (userdata holding the id; each field read reloads the record, and raises
---not_found once the container is removed).
---@class bocker.Container
---@field id string "ps_" + 12 hex digits.
---@field name? string The name given, or the one bocker made ("brave_lovelace").
---@field image string The image id.
---@field image_source string The image's source at create time.
---@field command string[] The command as given (what `ps` shows).
---@field argv string[] What is executed: entrypoint + command, after the shell rule.
---@field status bocker.ContainerStatus
---@field exit_code? integer nil until exited; 128+N for signal N; 125/126/127 if it could not start.
---@field pid? integer Host pid of the first process while running.
---@field created number Seconds since the epoch.
---@field started_at? number
---@field finished_at? number
---@field hostname string The container id.
---@field workdir string
---@field user? string nil = root.
---@field env string[] The full environment, "KEY=VALUE".
---@field error? string Why the last start failed.
---@field resources bocker.Resources
---@field health? "starting"|"healthy"|"unhealthy" Its healthcheck's status as its monitor last wrote it; nil without a healthcheck (or before its first start).
---@field network_mode string "bridge", "none", "host", "container:<id>" or a user network's name.
---@field ports string[] Published ports, e.g. "0.0.0.0:8080->80/tcp".
---@field exposed_ports string[] "80/tcp" entries: the image's, --expose and the published ones.
---@field stop_signal? string The signal stop sends (nil: TERM).
---@field network? bocker.ContainerNetwork While it runs on a bridge network.
---@field restart_policy string "no", "on-failure", "always" or "unless-stopped".
---@field stop_requested boolean The user stopped it (stop/kill): `unless-stopped` leaves it stopped at boot.
---@field paused boolean Running but frozen by `pause` (status stays "running").
---@field published_ports bocker.PublishedPort[] While running: the ports really bound (random ones resolved).
local Container = {}

---@class bocker.PublishedPort
---@field container_port integer
---@field proto string "tcp" or "udp".
---@field host_ip string "0.0.0.0" unless bound to one address.
---@field host_port integer

---@class bocker.ContainerNetwork
---@field name string
---@field ip string
---@field mac string
---@field gateway string
---@field prefix_length integer
---@field ports string[]

---Reads the record again (fields are a snapshot taken when the object was obtained).
---@return bocker.Container
function Container:refresh() end

---Starts it detached; a monitor keeps its log, exit code and restart policy.
---@return bocker.Container
function Container:start() end

---Attaches to the running container (or with start = true starts it first): its output here
---until it exits, stdin to it if asked and it was created with interactive. Returns its exit
---code, or nil, "detached" when the detach keys were typed (it keeps running).
---@param opts? bocker.AttachOptions
---@return integer? exit_code
---@return string? detached
function Container:attach(opts) end

---The stop signal (its stop_signal, else the image's StopSignal, else TERM), then SIGKILL after
---timeout seconds (default: its stop_timeout, else 10; -1 waits for ever); returns once the
---exit is recorded.
---@param opts? {timeout?: integer}
---@return bocker.Container
function Container:stop(opts) end

---Sends a signal ("KILL" default, "TERM", "SIGUSR1", 15, …). Raises invalid_state if not running.
---@param signal? string|integer
---@return bocker.Container
function Container:kill(signal) end

---Blocks until it has exited for good; returns the exit code. Raises `timeout` when
---`timeout` (seconds or "1m30s") passes first.
---@param opts? {timeout?: number|string}
---@return integer
function Container:wait(opts) end

---Blocks until every condition holds: a log line matching the regular expression `log`
---(`times` of them), a TCP `port` accepting connections, an HTTP GET of `http.path` on
---`http.port` answering `http.status` (any 2xx when not given), with `health` its healthcheck
---reporting healthy. Raises `timeout` (default 60 s), `invalid_state` when the container stops
---first or becomes unhealthy, `invalid_argument` for `health` without a healthcheck. Returns the container.
---@param conditions {log?: string, times?: integer, port?: integer, http?: {port?: integer, path?: string, status?: integer}, health?: boolean, timeout?: number|string}
---@return bocker.Container
function Container:wait_for(conditions) end

---The host port published for a container port. Raises not_found when it is not published.
---@param port integer
---@param proto? "tcp"|"udp"
---@return integer
function Container:port(port, proto) end

---The container's address (on `network`), or nil while it has none.
---@param network? string
---@return string?
function Container:ip(network) end

---A table shaped like docker inspect's object, or its JSON text with {json = true}.
---@param opts? {json?: boolean}
---@return table|string
function Container:inspect(opts) end

---Starts the container (created or exited) in the foreground and waits. Output goes live to
---stdout/stderr and into the log. Raises invalid_state, command_not_found, not_executable, kernel.
---@param opts? bocker.RunOptions
---@return integer exit_code The exit code (128+N for signal N).
function Container:run(opts) end

---Runs a command (no shell) in the running container with this process's stdio; waits.
---Raises invalid_state when the container is not running.
---@param cmd string[]|string
---@param opts? bocker.ExecOptions
---@return integer exit_code
function Container:exec(cmd, opts) end

---Everything the container printed, in order.
---@return bocker.LogEntry[]
function Container:logs() end

---@class bocker.ConfigChanges
---@field cmd? string[]
---@field entrypoint? string[] Also clears the old cmd unless cmd is given too (Docker's rule).
---@field env? string[] "KEY=VALUE": added, or replacing the variable of that name.
---@field exposed_ports? string[] "80", "53/udp", "8000-8010/tcp": added.
---@field labels? table<string, string> Added or replaced.
---@field user? string
---@field workdir? string Relative: from the image's working directory.
---@field volumes? string[] Absolute paths: added.
---@field stop_signal? string
---@field healthcheck? bocker.Healthcheck
---@field on_build? string[] ONBUILD triggers ("RUN make"): added.

---@class bocker.CommitOptions
---@field changes? bocker.ConfigChanges A patch to the image's config.
---@field message? string The history entry's comment.
---@field author? string The image's author and the history entry's.
---@field pause? boolean Freeze a running container while its files are read (default true).

---Saves the container's changes as one new layer on its image's layers, with the image's
---config (patched by opts.changes) and history (plus one entry): replaces the image `target`
---names when that is its only name or its id (same id), else makes a new image named
---`target` (no target: an image without a name).
---@param target? string
---@param opts? bocker.CommitOptions
---@return bocker.Image image
---@return boolean replaced True when an existing image was replaced.
function Container:commit(target, opts) end

---Writes the container's filesystem (its image with its changes) as one flat tar to `path`
---("-": standard output). No file is left on failure.
---@param path string
function Container:export(path) end

---Removes the container (processes, cgroup, root filesystem, record, unused layers).
---@param opts? bocker.RemoveOptions
---@return string id
function Container:remove(opts) end

---@return bocker.Cgroup
function Container:cgroup() end

---Gives the container a new name (unique); emits a `rename` event.
---@param new_name string
---@return bocker.Container
function Container:rename(new_name) end

---Freezes every process of the running container (cgroup freezer); emits `pause`.
---@return bocker.Container
function Container:pause() end

---Lets a paused container run again; emits `unpause`.
---@return bocker.Container
function Container:unpause() end

---@class bocker.UpdateOptions
---@field memory? integer Memory limit in bytes (at least 6 MiB).
---@field cpu_shares? integer 2-262144.
---@field cpus? number At most this many CPUs' worth of time (CFS quota); 0 removes it.
---@field pids_limit? integer 0 or -1: unlimited.

---Changes the limits of the container's cgroup (running or not) and its record.
---@param limits bocker.UpdateOptions
---@return bocker.Container
function Container:update(limits) end

---Copies the container's file or tree at `path` (resolved inside the container: its symlinks
---never lead out) to the host path `dest` (Docker's rules), or without `dest` writes it as a tar
---stream on stdout. Running or stopped.
---@param path string
---@param dest? string
---@return bocker.Container
function Container:copy_out(path, dest) end

---@class bocker.CopyInOptions
---@field archive? boolean Keep the source's owners (default: the container's root owns the files).

---Copies the host file or tree `src` (nil: a tar stream read from stdin) into the container at
---`path`. Running or stopped.
---@param src? string
---@param path string
---@param opts? bocker.CopyInOptions
---@return bocker.Container
function Container:copy_in(src, path, opts) end

---@class bocker.Stats
---@field time number When it was read.
---@field cpu_nanos integer CPU time the container used (cumulative).
---@field system_nanos integer CPU time of the whole host (cumulative, /proc/stat).
---@field online_cpus integer
---@field memory_usage integer Bytes, without the reclaimable page cache.
---@field memory_limit integer Bytes (the host's memory when unlimited).
---@field net_rx integer
---@field net_tx integer
---@field block_read integer
---@field block_write integer
---@field pids integer

---One reading of the running container's counters (CPU % = delta cpu / delta system × CPUs × 100).
---@return bocker.Stats
function Container:stats() end

---What the container changed against its image, sorted by path (Docker's diff).
---@return {kind: "A"|"C"|"D", path: string}[]
function Container:diff() end

---The host's `ps ARGS` (default -ef), only the container's processes.
---@param ps_args? string[]
---@return string[] titles
---@return string[][] rows
function Container:top(ps_args) end

---@class bocker.CreateOptions
---@field image string Image id or source (required).
---@field cmd? string[]|string The command (default: the image's cmd).
---@field shell? boolean Join cmd with spaces and run it with /bin/sh -c.
---@field entrypoint? string[] Replaces the image's entrypoint.
---@field env? string[] "KEY=VALUE" entries, after PATH, HOSTNAME, HOME and the image's.
---@field workdir? string Absolute path inside the container (created if missing).
---@field name? string Unique; letters, digits, "_", ".", "-". Without one, bocker makes one ("brave_lovelace").
---@field user? string "name", "uid", "name:group" or "uid:gid" (names from the container's own files).
---@field cpu_shares? integer 2 to 262144.
---@field memory? integer Bytes, at least 6 MiB.
---@field pids_limit? integer 0 or less: unlimited.
---@field network? string "bridge" (default), "none", "host", a user network, or "container:NAME" (a running container's).
---@field ports? string[] "[HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]" entries.
---@field volumes? string[] "/host:/dest[:ro]" or "name:/dest[:ro]".
---@field volumes_from? string[] "CONTAINER[:ro]".
---@field tmpfs? string[] Destinations for a tmpfs.
---@field hostname? string
---@field restart? string "no", "on-failure[:N]", "always", "unless-stopped".
---@field auto_remove? boolean
---@field init? boolean
---@field tty? boolean
---@field interactive? boolean Keep its stdin open while it runs detached, for attach and start -ai (-i).
---@field labels? table<string, string>
---@field privileged? boolean Every capability, no seccomp, every device, writable /sys (dangerous).
---@field cap_add? string[] Capabilities to add ("NET_ADMIN", "CAP_SYS_TIME", "ALL").
---@field cap_drop? string[] Capabilities to drop (applied before cap_add; "ALL" drops every one).
---@field read_only? boolean Mount the root filesystem read-only.
---@field security_opt? string[] "seccomp=unconfined", "seccomp=PROFILE.json", "no-new-privileges[=false]", "systempaths=unconfined".
---@field devices? string[] "HOST[:CONTAINER][:rwm]" host devices to make available.
---@field userns? "host"|"auto" The user namespace: the host's (default) or a private id range.
---@field log_opts? string[] "max-size=10m", "max-file=3": rotation of the container's log (Docker's json-file options).
---@field publish_all? boolean Publish every exposed port (the image's and `expose`) on a free host port (-P).
---@field expose? string[] "80", "53/udp", "8000-8010": exposed besides the image's ports.
---@field stop_signal? string The signal stop sends (default: the image's StopSignal, else TERM).
---@field stop_timeout? integer Seconds stop waits before SIGKILL (default 10; -1: for ever).
---@field extra_hosts? string[] "NAME:IP" lines added to /etc/hosts (IP "host-gateway": the bridge's address).
---@field dns? string[] Nameserver addresses for /etc/resolv.conf (replace the host's).
---@field dns_search? string[] Search domains for /etc/resolv.conf.
---@field dns_options? string[] Resolver options for /etc/resolv.conf ("ndots:2").
---@field cpus? number CPU time as a number of CPUs (1.5): a CFS quota per 100 ms period.
---@field cpuset_cpus? string The CPUs it may run on ("0-2,4").
---@field memory_swap? integer Memory plus swap in bytes (at least `memory`; -1 unlimited swap).
---@field memory_reservation? integer Soft memory limit in bytes.
---@field mounts? string[] Docker's --mount syntax: "type=bind,source=/x,target=/y,readonly", "type=tmpfs,target=/t,tmpfs-size=1m".
---@field ulimits? string[] "nofile=1024:2048", "core=0": rlimits set before the command starts.
---@field shm_size? integer Size of /dev/shm in bytes (default 64 MiB).
---@field sysctls? string[] "net.ipv4.ip_forward=1": namespaced sysctls only (net.*, kernel.shm*/msg*/sem, fs.mqueue.*).
---@field ipc? string The IPC namespace (and /dev/shm): "private" (default), "shareable", "none" (no /dev/shm), "host" or "container:NAME".
---@field pid? string "host" or "container:NAME": share the host's or a running container's PID namespace.
---@field uts? "host" Share the host's UTS namespace (hostname).
---@field healthcheck? bocker.Healthcheck|string|false Its healthcheck, over the image's: a table, a shell command, or false to disable the image's (--no-healthcheck).

---The container's monitor runs it inside the container: the first check `interval` after the
---start, a check running past `timeout` is killed and fails, `retries` failures in a row make it
---unhealthy (failures within `start_period` do not count). Durations: seconds or "1m30s".
---@class bocker.Healthcheck
---@field test? string|string[] A shell command (CMD-SHELL), {"CMD", argv...}, {"CMD-SHELL", "cmd"}, {"NONE"}, or a plain argv list; nil keeps the image's command.
---@field interval? number|string Between checks (default 30s).
---@field timeout? number|string Longest a check may run (default 30s).
---@field retries? integer Failures in a row that make it unhealthy (default 3).
---@field start_period? number|string Time to start in (default 0).
---@field start_interval? number|string Between checks during the start period (default 5s).

---@class bocker.Volume
---@field name string
---@field mountpoint string
---@field created number
---@field users string[] Ids of containers that mount it.

---@class bocker.volumelib
local volumelib = {}
---@param opts {name: string}
---@return bocker.Volume
function volumelib.create(opts) end
---@return bocker.Volume[]
function volumelib.list() end
---@param name string
---@return bocker.Volume
function volumelib.get(name) end
---@param name string
---@return string
function volumelib.remove(name) end

-- Builds ---------------------------------------------------------------------------------------

---Options of `bocker.build.from` (inherited by every chain made from the chain).
---@class bocker.BuildOptions
---@field name? string The stage's name (progress, `--from=` in history).
---@field context? string The directory COPY/ADD read (default: the current directory).
---@field include? string[] The context's paths COPY may see (what .dockerignore lets through; default all).
---@field network? "bridge"|"host"|"none" RUN's network (default bridge).
---@field build_args? table<string, string> Given to every RUN as environment (part of its cache key).
---@field no_cache? boolean Run every step even when the cache has it (results still cached).
---@field pull? boolean Pull the base image even when it is here.
---@field progress? fun(ev: bocker.BuildEvent) Called on the calling thread.
---@field display? string The step as progress and history show it.
---@field location? string Put before the message of the step's failure ("Dockerfile:3").

---A build progress event.
---@class bocker.BuildEvent
---@field kind "step"|"cached"|"output"|"done"|"pull"
---@field text? string The step's instruction (step), a line of output (output, pull).
---@field stage? string The stage's name (step).
---@field id? string 12 hex digits of the step's cache key (done).

---Options of one step (`display` and `location` as in bocker.BuildOptions).
---@class bocker.StepOptions
---@field display? string
---@field location? string
---@field network? "bridge"|"host"|"none" RUN only.
---@field env? table<string, string> RUN only: more environment.
---@field chown? string COPY/ADD: USER[:GROUP], names looked up in the image.
---@field chmod? string COPY/ADD: an octal mode.
---@field from? bocker.BuildChain|string COPY: another chain or an image instead of the context.
---@field context? string COPY: another context directory.
---@field include? string[] COPY: what of the context may be copied.

---An immutable build chain (userdata): each method returns a new chain; nothing runs until
---`commit` or `stdout`.
---@class bocker.BuildChain
---@field name? string The stage name given to `from`.
---@field display string The last step's instruction.
local BuildChain = {}
---@param cmd string|string[] A string runs through the image's shell (/bin/sh -c); a list is exec form.
---@param opts? bocker.StepOptions
---@return bocker.BuildChain
function BuildChain:run(cmd, opts) end
---@param src string|string[] Paths (globs allowed) in the context.
---@param dest string Relative to the working directory unless absolute; a trailing / means a directory.
---@param opts? bocker.StepOptions
---@return bocker.BuildChain
function BuildChain:copy(src, dest, opts) end
---COPY that unpacks local tar archives (plain, gzip, zstd, bzip2, xz). URLs are refused.
---@return bocker.BuildChain
function BuildChain:add(src, dest, opts) end
---@param from bocker.BuildChain|bocker.Image|string A chain (stage) or an image.
---@return bocker.BuildChain
function BuildChain:copy_from(from, src, dest, opts) end
---@return bocker.BuildChain
function BuildChain:workdir(path, opts) end
---@param vars table<string, string>|string[] A map (sorted by key) or "K=V" strings (in order).
---@return bocker.BuildChain
function BuildChain:env(vars, opts) end
---@return bocker.BuildChain
function BuildChain:label(labels, opts) end
---@return bocker.BuildChain
function BuildChain:user(user, opts) end
---@param cmd string|string[] A string becomes {"/bin/sh", "-c", cmd}.
---@return bocker.BuildChain
function BuildChain:cmd(cmd, opts) end
---Sets the entrypoint (and clears an inherited Cmd, as Docker does).
---@return bocker.BuildChain
function BuildChain:entrypoint(cmd, opts) end
---@param shell string[]
---@return bocker.BuildChain
function BuildChain:shell(shell, opts) end
---@param ports string|string[] "8080", "53/udp".
---@return bocker.BuildChain
function BuildChain:expose(ports, opts) end
---@return bocker.BuildChain
function BuildChain:volume(paths, opts) end
---@return bocker.BuildChain
function BuildChain:stop_signal(signal, opts) end
---@param h "NONE"|{test: string|string[], interval?: number, timeout?: number, start_period?: number, start_interval?: number, retries?: integer}
---@return bocker.BuildChain
function BuildChain:healthcheck(h, opts) end
---@return bocker.BuildChain
function BuildChain:onbuild(instruction, opts) end
---@return bocker.BuildChain
function BuildChain:author(name, opts) end
---Builds the chain and runs `cmd` on it (network, env as for run); returns its standard
---output. Cached like a step.
---@param cmd string|string[]
---@param opts? {network?: string, env?: table<string, string>, progress?: fun(ev: bocker.BuildEvent)}
---@return string
function BuildChain:stdout(cmd, opts) end
---Builds the chain and stores it as an image with the names given (none: an unnamed image).
---@param names? string|string[]
---@param opts? {progress?: fun(ev: bocker.BuildEvent)}
---@return bocker.Image
function BuildChain:commit(names, opts) end

---@class bocker.buildlib
local buildlib = {}
---A chain starting at an image (pulled when missing), "scratch", or another chain.
---@param base string|bocker.Image|bocker.BuildChain
---@param opts? bocker.BuildOptions
---@return bocker.BuildChain
function buildlib.from(base, opts) end
---Empties the build cache; returns the entries and the layers removed.
---@return integer entries
---@return integer layers
function buildlib.prune() end
---What the build cache holds alone.
---@return {entries: integer, layers: integer, bytes: integer}
function buildlib.usage() end

---@class bocker.Network
---@field name string
---@field subnet string CIDR.
---@field gateway string
---@field bridge string Host interface name.
---@field builtin boolean True for "bridge".
---@field internal boolean Made with internal = true: no NAT, nothing forwarded beyond its bridge.
local Network = {}

---Removes the network and its bridge. Raises in_use while a running container uses it.
---@return string name
function Network:remove() end

---@class bocker.NetworkCreateOptions
---@field name string
---@field subnet? string CIDR; default: the first free 10.89.N.0/24.
---@field internal? boolean No NAT and no forwarding beyond its bridge; ports cannot be published on it.

---@class bocker.networklib
local networklib = {}

---@param opts bocker.NetworkCreateOptions
---@return bocker.Network
function networklib.create(opts) end

---Every network, "bridge" first.
---@return bocker.Network[]
function networklib.list() end

---Raises not_found.
---@param name string
---@return bocker.Network
function networklib.get(name) end

---@param ref string|bocker.Network
---@return string name
function networklib.remove(ref) end

---@class bocker.containerlib
local containerlib = {}

---Every container, oldest first.
---@return bocker.Container[]
function containerlib.list() end

---Every container, oldest first, as plain tables of what `ps` shows and filters on, read
---through the store's summary cache (one stat per record): id, name, image, image_source,
---command, created and status in the table; paused, exit_code, pid, started_at, finished_at,
---network_mode, ports, labels and mounts filled in on first use; any other Container field or
---method reads the full record on use.
---@return bocker.Container[]
function containerlib.summaries() end

---The container with this id or name. Raises not_found.
---@param ref string
---@return bocker.Container
function containerlib.get(ref) end

---Makes a container (root filesystem, cgroup with limits, record) in state "created".
---@param opts bocker.CreateOptions
---@return bocker.Container
function containerlib.create(opts) end

---Removes a container (by id, name or object). Raises invalid_state if running, unless force.
---@param ref string|bocker.Container
---@param opts? bocker.RemoveOptions
---@return string id
function containerlib.remove(ref, opts) end

---Removes every container that is not running.
---@return string[] ids
---@return integer bytes Space their directories held.
function containerlib.prune() end

-- The bocker table --------------------------------------------------------------------------

---@class bocker.CommandInfo
---@field name string
---@field origin "user"|"bundled"
---@field path string The file, or "commands/NAME.lua" inside the binary.

---What a command file returns.
---@class bocker.Command
---@field summary? string One line for `bocker help`.
---@field usage? string Shown by `bocker help NAME`.
---@field help? string More text for `bocker help NAME`.
---@field error_status? integer Exit status when run raises (default 1).
---@field run fun(args: string[]): integer? Returns the exit status (nil = 0).

---@class bocker
---@field image bocker.imagelib
---@field container bocker.containerlib
---@field cgroup bocker.cgrouplib
---@field network bocker.networklib
---@field volume bocker.volumelib
---@field build bocker.buildlib
bocker = {}

---JSON both ways. Calling the table itself encodes, as `bocker.json.encode` does.
---@class bocker.jsonlib
---@field null lightuserdata Stands for JSON null in decoded values (and encodes as null).
---@overload fun(value: any, indent?: integer): string
bocker.json = {}

---JSON text for a Lua value (arrays: keys exactly 1..n; objects: sorted keys).
---@param value any
---@param indent? integer
---@return string
function bocker.json.encode(value, indent) end

---The Lua value of JSON text (objects and arrays as tables, null as bocker.json.null).
---Raises invalid_argument with one line for bad JSON.
---@param text string
---@return any
function bocker.json.decode(text) end

---YAML both ways, over libyaml (what compose files need: anchors, aliases, merge keys `<<`,
---block scalars; plain scalars typed by the YAML 1.2 core schema, so `yes` and `8080:80` are
---strings).
---@class bocker.yamllib
---@field null lightuserdata Stands for YAML null in decoded values (the same value as bocker.json.null).
bocker.yaml = {}

---The Lua value of the first document (mappings and sequences as tables, null as
---bocker.yaml.null; an empty text is null). The core tags (!!str, !!int, …) are honoured, other
---tags are errors. Raises invalid_argument with one line:
---"yaml: line 3, column 5: ...". Duplicate keys are errors; a document that expands to more
---than 100,000 values (aliases) or nests deeper than 256 is refused; an alias must follow its anchor.
---@param text string
---@return any
function bocker.yaml.decode(text) end

---Every document of a multi-document text (separated by `---`), as a list.
---@param text string
---@return any[]
function bocker.yaml.decode_all(text) end

---YAML text for a Lua value, block style, keys sorted (a table with keys exactly 1..n is a
---sequence; an empty table is `{}`). Strings that would read back as another type are quoted;
---strings with newlines are literal blocks.
---@param value any
---@return string
function bocker.yaml.encode(value) end

---Waits.
---@param seconds number
function bocker.sleep(seconds) end

---Disk usage of the store (`system df`): rows for Images, Containers, Local Volumes, Build Cache.
---@return {type: string, total: integer, active: integer, size: integer, reclaimable: integer}[]
function bocker.system_df() end

---Blocks until one of the containers has exited for good and returns it. Raises `timeout`.
---@param containers (bocker.Container|string)[]
---@param opts? {timeout?: number|string}
---@return bocker.Container
function bocker.wait_any(containers, opts) end

---Seconds for a duration: a number, or Go's form ("1m30s", "500ms", "2h").
---@param value number|string
---@return number
function bocker.duration(value) end

---Container events as they happen: create, start, die, oom, destroy. Without `since`, only
---events from now on; without `until`, the iterator waits for more (raising `timeout` when
---`timeout` passes). Filters of one key are alternatives; different keys must all match.
---@param opts? {filters?: {container?: string|string[], event?: string|string[], image?: string|string[]}, since?: number, until?: number, timeout?: number|string}
---@return fun(): {time: number, time_text: string, type: "container", action: string, id: string, name?: string, image: string, exit_code?: integer}
function bocker.events(opts) end

---Plain HTTP for smoke tests and health gates.
bocker.http = {}

---One request (redirects followed). `method` defaults to POST with a body, GET without. Any
---status is an answer; no answer raises `io`, the time limit (default 30 s) `timeout`.
---@param req {url: string, method?: string, headers?: table<string, string>, body?: string, timeout?: number|string}
---@return {status: integer, headers: table<string, string>, body: string}
function bocker.http.request(req) end

---An environment variable, or `default` when it is unset or empty.
---@param name string
---@param default? string
---@return string?
function bocker.env(name, default) end

---Text layout in one call.
bocker.text = {}
---The table as text, as `cli.table` prints it: a line per row ending in "\n", each column padded
---to its widest cell (bytes) and `gap` spaces (default 3) before the next, the last cell
---unpadded. Cells are strings or numbers; anything else raises naming its row and column.
---@param headers (string|number)[]
---@param rows (string|number)[][]
---@param gap? integer
---@return string
function bocker.text.columns(headers, rows, gap) end

---Files for scripts.
bocker.fs = {}
---@param path string
---@return string
function bocker.fs.read(path) end
---Replaces the file atomically.
---@param path string
---@param text string
function bocker.fs.write(path, text) end
---@param path string
---@return boolean
function bocker.fs.exists(path) end
---The absolute path of the current directory (getcwd; $PWD can be stale).
---@return string
function bocker.fs.cwd() end
---mkdir -p.
---@param path string
function bocker.fs.mkdir(path) end
---rm -rf (not across file systems).
---@param path string
function bocker.fs.remove(path) end
---A new private directory under $TMPDIR or /tmp.
---@param prefix? string
---@return string
function bocker.fs.tempdir(prefix) end
---Sorted paths matching a shell pattern.
---@param pattern string
---@return string[]
function bocker.fs.glob(pattern) end
---A directory's entries sorted by name; symlinks are reported as "link", never followed.
---@param dir string
---@return { name: string, type: "file"|"dir"|"link"|"other" }[]
function bocker.fs.list(dir) end

---Levelled lines on stderr ("info: …", coloured on a terminal), shown from $BOCKER_LOG_LEVEL
---(debug, info (default), warn, error) up.
bocker.log = {}
---@param ... any
function bocker.log.debug(...) end
---@param ... any
function bocker.log.info(...) end
---@param ... any
function bocker.log.warn(...) end
---@param ... any
function bocker.log.error(...) end

---Makes an error value (does not raise it): error(bocker.error("not_found", "…"), 0).
---@param code bocker.ErrorCode|string
---@param message string
---@param status? integer Exit status to use if it goes uncaught.
---@return bocker.Error
function bocker.error(code, message, status) end

---The state root ($BOCKER_ROOT or /var/bocker). Opens (and if needed creates) the store.
---@return string
function bocker.root() end

---The absolute path of this bocker binary (what the systemd unit runs).
---@return string
function bocker.executable() end

---The store's storage driver.
---@return "btrfs"|"overlay"|"copy"
function bocker.driver() end

---Every command found, sorted by name.
---@return bocker.CommandInfo[]
function bocker.commands() end

---A command's table; nil if there is no such command; nil and the error if its file raised.
---@param name string
---@return bocker.Command|nil command
---@return any err
function bocker.load_command(name) end

---Whether a file descriptor (default 1) is a terminal.
---@param fd? integer
---@return boolean
function bocker.isatty(fd) end

---Seconds since the epoch (float).
---@return number
function bocker.now() end

---bocker's version, e.g. "0.1.0".
---@return string
function bocker.version() end

---@class bocker.HostInfo
---@field version string bocker's version
---@field build string the first 7 hex digits of the binary's GNU build id ("unknown" without one)
---@field swift string the Swift compiler it was built with ("6.3")
---@field lua string the Lua release it was compiled against ("Lua 5.4.4")
---@field kernel string uname release
---@field machine string uname machine ("x86_64")
---@field os string? PRETTY_NAME of /etc/os-release
---@field cpus integer online CPUs
---@field memory integer total memory in bytes
---@field seccomp boolean whether the kernel has seccomp filtering

---This build and this host (needs no state root): what `bocker version` and `bocker info` show.
---@return bocker.HostInfo
function bocker.host_info() end

-- bocker.cli ---------------------------------------------------------------------------------
-- The editor cannot see that require "bocker.cli" loads this; annotate the local:
--   local cli = require "bocker.cli" ---@type bocker.cli

---@class bocker.cli.OptionSpec
---@field name string Key in the options table.
---@field kind "flag"|"value"|"list"
---@field help? string What --help says about it (one spelling of each option carries it; "\n" continues a line).
---@field arg? string The value's placeholder in --help ("NAME"; default: the name upper-cased).

---@class bocker.cli
local cli = {}

---Raises an invalid_argument error with this message (exit status: `status` or the command's error_status).
---@param message string
---@param status? integer
function cli.fail(message, status) end

---Parses options at the front of args (stops at the first non-option or after "--"; with
---`anywhere`, options may follow positional arguments too). A "value" option also sets
---opts[name .. "_spelling"]. "--help" (and "-h" when spec has no -h) prints the command's
---help, generated from spec, and ends the command with status 0. A bad command line
---(unknown flag, missing value) fails with exit status 125.
---@param args string[]
---@param spec table<string, bocker.cli.OptionSpec>
---@param command? string|{name: string, usage: string, help?: string} Named in messages; its help is shown.
---@param anywhere? boolean
---@return table<string, any> opts
---@return string[] rest
function cli.parse(args, spec, command, anywhere) end

---The "Options:" text generated from a parser table (every spelling, sorted by long name).
---@param spec table<string, bocker.cli.OptionSpec>
---@return string
function cli.options_text(spec) end

---Prints a command's usage, summary, generated Options and prose help.
---@param command string|{name: string, usage: string, help?: string}
---@param spec? table<string, bocker.cli.OptionSpec> default: the command's `options`
function cli.print_help(command, spec) end

---A whole number from text, or a failure naming the option.
---@param text string
---@param option string
---@param min? integer
---@param max? integer
---@return integer
function cli.integer(text, option, min, max) end

---Bytes from Docker's size form: 512, 512b, 64k, 64m, 2g (binary units).
---@param text string
---@param option string
---@return integer
function cli.bytes(text, option) end

---Docker's human duration: "Less than a second", "3 seconds", "About a minute", ...
---@param seconds number
---@return string
function cli.duration(seconds) end

---cli.duration(bocker.now() - t) .. " ago"
---@param t number
---@return string
function cli.ago(t) end

---Docker's STATUS column for a container: "Up 3 seconds", "Exited (0) 2 minutes ago", "Created".
---@param c bocker.Container
---@return string
function cli.status(c) end

---Prints rows under headers, columns padded, three spaces apart.
---@param headers string[]
---@param rows string[][]
function cli.table(headers, rows) end

---A command list as one string (joined with spaces).
---@param argv string[]
---@return string
function cli.join(argv) end

---Writes an error's message (or any value) as one line on stderr.
---@param err any
function cli.warn(err) end


-- Globals set by bocker ----------------------------------------------------------------------

---Command-line arguments: arg[0] is the script, arg[1]... the arguments (as lua(1) sets them).
---@type table<integer, string>
arg = {}
