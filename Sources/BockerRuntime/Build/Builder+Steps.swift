import Glibc
import BockerCore
import BockerStore

extension Builder {
    /// The filesystem of a state, for reading (and for resolving a destination in it).
    func view(_ layers: [String]) -> TreeView {
        if store.driver.cumulative {
            return TreeView(layers: layers.last.map { [store.layerFS($0)] } ?? [], overlay: false)
        }
        return TreeView(layers: layers.reversed().map(store.layerFS), overlay: true)
    }

    func historyEntry(_ display: String) -> ImageHistory {
        ImageHistory(created: WallClock.rfc3339(seconds: WallClock.now().rounded(.down)), createdBy: display,
                     comment: "bocker build")
    }

    /// A cache hit for key (unless the chain says no cache).
    func cached(_ key: String, _ chain: BuildChain) -> BuildCacheEntry? {
        chain.options.noCache ? nil : store.buildCacheEntry(key)
    }

    // MARK: RUN

    /// The argv of a RUN step: exec form as given, shell form through the config's shell.
    static func argv(_ r: RunStep, _ config: ImageConfig) -> [String] {
        r.shellForm ? (config.shell ?? ["/bin/sh", "-c"]) + [r.command.joined(separator: " ")] : r.command
    }

    func run(_ r: RunStep, on s: BuildState, chain: BuildChain) throws -> BuildState {
        let argv = Self.argv(r, s.config)
        let key = Self.hash([s.key, "run", argv.joined(separator: "\u{1}"), r.env.joined(separator: "\u{1}"), r.network])
        if let hit = cached(key, chain) {
            emit(.cached)
            emit(.done(id: Self.short(key)))
            return BuildState(layers: hit.layers, config: hit.config, history: hit.history, key: key, author: s.author)
        }
        let (rec, output) = try runContainer(argv: argv, env: r.env, network: r.network, state: s)
        FaultPoint.hit("build.ran")
        let dir = runtime.root.containerDir(rec.id)
        var out = s
        out.key = key
        out.history.append(historyEntry(chain.display))
        do {
            try store.withLock {
                let layer = try store.createLayer(parent: s.layers.last, origin: "build " + chain.display) { fs in
                    try store.driver.commitContainer(containerDir: dir, into: fs)
                    // Not changes of the step: what the start made only to mount on.
                    runtime.dropMountPlaceholders(in: fs, imageLayers: s.layers)
                    FaultPoint.hit("build.layer")
                }
                out.layers.append(layer)
                try store.putBuildCache(BuildCacheEntry(key: key, layers: out.layers, config: out.config, history: out.history))
                store.endPending("layer", layer)
            }
        } catch {
            discard(rec.id)
            throw error
        }
        discard(rec.id)
        _ = output
        emit(.done(id: Self.short(key)))
        return out
    }

    /// Runs argv in a build container made from the state; returns the container (exited 0,
    /// not yet removed) and its standard output. A failing command removes it and throws.
    func runContainer(argv: [String], env: [String], network: String, state s: BuildState) throws -> (ContainerRecord, String) {
        var spec = ContainerSpec(image: "<build>", command: argv)
        spec.entrypoint = []
        spec.env = env
        spec.network = network
        spec.workdir = s.config.workingDir
        spec.user = s.config.user
        spec.labels = ["bocker.build": "step"]
        let img = ImageRecord(id: "<build>", source: "<build>", created: WallClock.now(), layers: s.layers, config: s.config)
        let rec = try store.withLock { () -> ContainerRecord in
            let rec = try runtime.create(spec, image: img)
            try store.beginPending("build", rec.id)
            return rec
        }
        let done: ContainerRecord
        do {
            done = try runtime.supervise(rec.id, attached: false, interactive: false, started: nil)
        } catch {
            discard(rec.id)
            throw error
        }
        var stdout = ""
        for e in (try? LogReader.read(path: runtime.logPath(rec.id))) ?? [] {
            if e.stream == "stdout" { stdout += e.log }
            for line in e.log.split(separator: "\n", omittingEmptySubsequences: false).dropLast(e.log.hasSuffix("\n") ? 1 : 0) {
                emit(.output(String(line)))
            }
        }
        let code = done.exitCode ?? 0
        if code != 0 {
            discard(rec.id)
            let shown = argv.count == 3 && argv[1] == "-c" ? argv.joined(separator: " ") : "[" + argv.map { "\"\($0)\"" }.joined(separator: " ") + "]"
            throw BockerError(.invalidState, "The command '\(shown)' returned a non-zero code: \(code)")
        }
        return (done, stdout)
    }

    /// Removes a build container and its marker.
    func discard(_ id: String) {
        _ = try? runtime.remove(id, force: true)
        store.endPending("build", id)
    }

    /// `:stdout(cmd)`: runs a command on the chain's state and returns its standard output,
    /// cached like a step (keyed by the state and the command).
    public func output(of chain: BuildChain, _ r: RunStep) throws -> String {
        let s = try build(chain)
        let argv = Self.argv(r, s.config)
        let key = Self.hash([s.key, "stdout", argv.joined(separator: "\u{1}"), r.env.joined(separator: "\u{1}"), r.network])
        if let hit = cached(key, chain), let text = hit.output { return text }
        let (rec, output) = try runContainer(argv: argv, env: r.env, network: r.network, state: s)
        discard(rec.id)
        try store.withLock {
            try store.putBuildCache(BuildCacheEntry(key: key, layers: s.layers, config: s.config, history: s.history, output: output))
        }
        return output
    }

    // MARK: COPY / ADD

    func copy(_ c: CopyStep, on s: BuildState, chain: BuildChain) throws -> BuildState {
        let target = view(s.layers)
        let source: TreeView
        var included: Set<String>?
        var fromContext = false
        var fromWhat = "context"
        switch c.from {
        case .context(let dir, let inc):
            guard FS.isDirectory(dir) else { throw BockerError(.notFound, "build context '\(dir)' is not a directory") }
            source = TreeView(directory: dir)
            included = inc
            fromContext = true
        case .chain(let other):
            let st = try solve(other)
            source = view(st.layers)
            fromWhat = "chain:" + st.key
        case .image(let ref):
            let img = try image(ref, pull: chain.options.pull)
            source = view(img.layers)
            fromWhat = "image:" + img.id
        }
        let owner = try c.chown.map { try Self.owner($0, in: target) }
        var mode: UInt32?
        if let m = c.chmod {
            guard let v = UInt32(m, radix: 8), v <= 0o7777 else {
                throw BockerError(.invalidArgument, "invalid --chmod '\(m)': use an octal mode such as 0755")
            }
            mode = v
        }
        let dest = c.destination.hasPrefix("/") ? c.destination : Self.join(s.config.workingDir ?? "/", c.destination)
        let plan = try CopyPlan.make(c, view: source, included: included, dest: dest, target: target,
                                     owner: owner, mode: mode, fromContext: fromContext)
        let key = Self.hash([s.key, c.add ? "add" : "copy", fromWhat, dest, try plan.digest()])
        if let hit = cached(key, chain) {
            emit(.cached)
            emit(.done(id: Self.short(key)))
            return BuildState(layers: hit.layers, config: hit.config, history: hit.history, key: key, author: s.author)
        }
        var out = s
        out.key = key
        out.history.append(historyEntry(chain.display))
        let tmp = runtime.root.tmpDir
        try store.withLock {
            let layer = try store.createLayer(parent: s.layers.last, origin: "build " + chain.display) { fs in
                try plan.apply(root: fs, target: target, tmpDir: tmp)
                FaultPoint.hit("build.copy")
            }
            out.layers.append(layer)
            try store.putBuildCache(BuildCacheEntry(key: key, layers: out.layers, config: out.config, history: out.history))
            store.endPending("layer", layer)
        }
        emit(.done(id: Self.short(key)))
        return out
    }

    /// `--chown USER[:GROUP]`: numbers, or names looked up in the image's own /etc/passwd and
    /// /etc/group (read as data, inside the image's root). A user alone gives its number as
    /// the group too, as Docker does.
    static func owner(_ spec: String, in view: TreeView) throws -> (UInt32, UInt32) {
        let parts = spec.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        func lookup(_ name: String, _ file: String, _ what: String) throws -> UInt32 {
            if let n = UInt32(name) { return n }
            for line in (view.readFile(file) ?? "").split(separator: "\n") {
                let f = line.split(separator: ":", omittingEmptySubsequences: false)
                if f.count >= 3 && f[0] == name, let n = UInt32(f[2]) { return n }
            }
            throw BockerError(.notFound, "unable to find \(what) \(name): no matching entries in \(FS.basename(file)) file")
        }
        guard let u = parts.first, !u.isEmpty else { throw BockerError(.invalidArgument, "invalid --chown '\(spec)'") }
        let uid = try lookup(u, "/etc/passwd", "user")
        let gid = parts.count > 1 && !parts[1].isEmpty ? try lookup(parts[1], "/etc/group", "group") : uid
        return (uid, gid)
    }
}
