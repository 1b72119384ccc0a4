import Glibc
import BockerCore
import BockerStore
import BockerDigest
import BockerRegistry

/// Runs build chains: each step from the cache when its key is there, else for real (RUN in a
/// build container committed to a layer, COPY/ADD written into a new layer, config steps on the
/// config alone); a chain used several times is built once, and chains that do not depend on
/// each other (stages) are built on threads of their own. Owns the per-build memo and hands
/// progress events to `progress` on the thread that called `build` (never on a worker).
public final class Builder {
    public let runtime: Runtime
    public var progress: (BuildEvent) -> Void = { _ in }
    var store: Store { runtime.store }

    /// A chain's result once some thread has built it.
    final class Slot {
        var state: BuildState?
        var error: Error?
        var done = false
    }

    private var memo: [ObjectIdentifier: Slot] = [:]
    private var retained: [BuildChain] = []
    private var events: [BuildEvent] = []
    private let mainThread = pthread_self()
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()

    public init(runtime: Runtime) {
        self.runtime = runtime
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    deinit {
        pthread_mutex_destroy(&mutex)
        pthread_cond_destroy(&cond)
    }

    var onMain: Bool { pthread_equal(pthread_self(), mainThread) != 0 }

    /// Progress from any thread: straight to `progress` on the caller's thread, queued otherwise.
    func emit(_ e: BuildEvent) {
        if onMain { flushEvents(); progress(e); return }
        pthread_mutex_lock(&mutex)
        events.append(e)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }

    func flushEvents() {
        pthread_mutex_lock(&mutex)
        let pending = events
        events.removeAll()
        pthread_mutex_unlock(&mutex)
        pending.forEach(progress)
    }

    // MARK: Solving

    /// Builds `chain` (and every chain it needs; independent ones in parallel) and returns its
    /// state. Call from the thread that owns `progress`.
    public func build(_ chain: BuildChain) throws -> BuildState {
        try Self.unwrap { try buildLocated(chain) }
    }

    func buildLocated(_ chain: BuildChain) throws -> BuildState {
        // Every distinct chain this one depends on, deepest first.
        var deps: [BuildChain] = []
        var seen = Set<ObjectIdentifier>()
        func gather(_ c: BuildChain) {
            for d in c.dependencies where seen.insert(ObjectIdentifier(d)).inserted {
                gather(d)
                deps.append(d)
            }
        }
        gather(chain)
        var threads: [pthread_t] = []
        if deps.count >= 2 {
            for d in deps {
                threads += WorkerThreads.start(1) { [self] in _ = try? solve(d) }
            }
        }
        // Without workers, the stages it needs first, in order (their steps show first).
        if threads.isEmpty { for d in deps { _ = try solve(d) } }
        let result = Result { try solve(chain) }
        // Wait for the workers (they may still be running a step when this one failed).
        for d in deps where !threads.isEmpty { _ = try? solve(d) }
        for t in threads { pthread_join(t, nil) }
        flushEvents()
        return try result.get()
    }

    /// The memoised state of one chain node: computed by the first thread that asks, waited for
    /// by the others.
    func solve(_ chain: BuildChain) throws -> BuildState {
        let id = ObjectIdentifier(chain)
        pthread_mutex_lock(&mutex)
        if let slot = memo[id] {
            while !slot.done {
                if onMain && !events.isEmpty {
                    let pending = events
                    events.removeAll()
                    pthread_mutex_unlock(&mutex)
                    pending.forEach(progress)
                    pthread_mutex_lock(&mutex)
                    continue
                }
                pthread_cond_wait(&cond, &mutex)
            }
            pthread_mutex_unlock(&mutex)
            if let e = slot.error { throw e }
            return slot.state!
        }
        let slot = Slot()
        memo[id] = slot
        retained.append(chain)
        pthread_mutex_unlock(&mutex)
        let r = Result { try compute(chain) }
        pthread_mutex_lock(&mutex)
        switch r {
        case .success(let s): slot.state = s
        case .failure(let e): slot.error = e
        }
        slot.done = true
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
        return try r.get()
    }

    /// A step's failure, already told with the step's location (not located again by the
    /// steps that depend on it).
    struct LocatedError: Error { let error: BockerError }

    /// Runs body; a failure becomes a `LocatedError` naming the chain's location.
    func located<T>(_ chain: BuildChain, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as LocatedError { throw e } catch let e as BockerError {
            throw LocatedError(error: chain.location.map { BockerError(e.code, "\($0): \(e.message)") } ?? e)
        }
    }

    /// The public face of a failure: the located error as a plain `BockerError`.
    static func unwrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as LocatedError { throw e.error }
    }

    func compute(_ chain: BuildChain) throws -> BuildState {
        guard let parent = chain.parent, let step = chain.step else {
            if case .chain(let c) = chain.base { _ = try solve(c) }
            emit(.step(display: chain.display, stage: chain.options.stageName))
            let s = try located(chain) { try baseState(chain) }
            emit(.done(id: Self.short(s.key)))
            return s
        }
        let state = try solve(parent)
        if case .copy(let c) = step, case .chain(let other) = c.from { _ = try solve(other) }
        emit(.step(display: chain.display, stage: chain.options.stageName))
        return try located(chain) {
            switch step {
            case .config(let change):
                let out = applyConfig(change, to: state, display: chain.display)
                emit(.done(id: Self.short(out.key)))
                return out
            case .run(let r):
                return try run(r, on: state, chain: chain)
            case .copy(let c):
                return try copy(c, on: state, chain: chain)
            }
        }
    }

    static func short(_ key: String) -> String { String(key.prefix(12)) }

    static func hash(_ parts: [String]) -> String {
        let h = SHA256()
        for p in parts { h.update(Array(p.utf8)); h.update([0]) }
        return h.finalizeHex()
    }

    /// The state of a chain's base: scratch, an image (pulled when missing or with `pull`), or
    /// another chain.
    func baseState(_ chain: BuildChain) throws -> BuildState {
        switch chain.base {
        case .scratch:
            return BuildState(layers: [], config: ImageConfig(), history: [], key: Self.hash(["scratch"]))
        case .chain(let c):
            return try solve(c)
        case .image(let ref):
            let img = try image(ref, pull: chain.options.pull)
            let history = img.history ?? img.layers.map { ImageHistory(createdBy: "bocker " + (store.layerRecord($0)?.origin ?? "")) }
            return BuildState(layers: img.layers, config: img.config, history: history,
                              key: Self.hash(["image", img.configDigest ?? img.id, img.layers.joined(separator: ",")]),
                              author: img.author)
        }
    }

    /// An image by reference, pulled when the store lacks it (or always with `pull`).
    func image(_ ref: String, pull: Bool) throws -> ImageRecord {
        if !pull, let img = try? store.image(ref) { return img }
        do {
            return try runtime.pull(ref) { ev in
                if ev.status == "Pull complete" || ev.status == "Already exists" { self.emit(.pull("\(ev.layer): \(ev.status)")) }
            }.image
        } catch let e as BockerError where !pull {
            throw BockerError(e.code, "FROM \(ref): \(e.message)")
        }
    }

    // MARK: Config steps

    func applyConfig(_ change: ConfigChange, to s: BuildState, display: String) -> BuildState {
        var out = s
        var c = s.config
        func setEnv(_ k: String, _ v: String) {
            var env = c.env ?? []
            env.removeAll { $0.hasPrefix(k + "=") }
            env.append(k + "=" + v)
            c.env = env
        }
        switch change {
        case .env(let kv): for (k, v) in kv { setEnv(k, v) }
        case .workdir(let w):
            c.workingDir = w.hasPrefix("/") ? w : Self.join(c.workingDir ?? "/", w)
        case .user(let u): c.user = u
        case .cmd(let a): c.cmd = a
        case .entrypoint(let a):
            c.entrypoint = a
            c.cmd = nil   // Docker: ENTRYPOINT resets an inherited CMD
        case .shell(let a): c.shell = a
        case .expose(let p):
            c.exposedPorts = Array(Set((c.exposedPorts ?? []) + p.map { $0.contains("/") ? $0 : $0 + "/tcp" })).sorted()
        case .labels(let kv):
            var l = c.labels ?? [:]
            for (k, v) in kv { l[k] = v }
            c.labels = l
        case .volumes(let v): c.volumes = Array(Set((c.volumes ?? []) + v)).sorted()
        case .stopSignal(let s): c.stopSignal = s
        case .healthcheck(let h): c.healthcheck = h
        case .onBuild(let o): c.onBuild = (c.onBuild ?? []) + o
        case .author(let a): out.author = a
        case .none: break
        }
        out.config = c
        // Config steps are not cached: the time of the step before keeps a rebuild identical.
        out.history.append(ImageHistory(created: s.history.last?.created, createdBy: display,
                                        comment: "bocker build", emptyLayer: true))
        out.key = Self.hash([s.key, "config", Self.configFingerprint(c), out.author ?? ""])
        return out
    }

    static func configFingerprint(_ c: ImageConfig) -> String {
        var parts: [String] = []
        parts.append((c.env ?? []).joined(separator: "\u{1}"))
        parts.append((c.entrypoint ?? ["<nil>"]).joined(separator: "\u{1}"))
        parts.append((c.cmd ?? ["<nil>"]).joined(separator: "\u{1}"))
        parts.append(c.workingDir ?? "")
        parts.append(c.user ?? "")
        parts.append((c.shell ?? []).joined(separator: "\u{1}"))
        parts.append((c.exposedPorts ?? []).joined(separator: ","))
        parts.append((c.labels ?? [:]).keys.sorted().map { $0 + "=" + c.labels![$0]! }.joined(separator: "\u{1}"))
        parts.append((c.volumes ?? []).joined(separator: ","))
        parts.append(c.stopSignal ?? "")
        parts.append(c.healthcheck.map { $0.test.joined(separator: "\u{1}") + "\($0.interval ?? 0)/\($0.timeout ?? 0)/\($0.startPeriod ?? 0)/\($0.retries ?? 0)" } ?? "")
        parts.append((c.onBuild ?? []).joined(separator: "\u{1}"))
        return parts.joined(separator: "\u{2}")
    }

    static func join(_ base: String, _ rel: String) -> String {
        base.hasSuffix("/") ? base + rel : base + "/" + rel
    }

    // MARK: Images

    /// Builds `chain` and stores it as an image with `names` (each `NAME[:TAG]`); an image that
    /// already has the first name and the same layers, config and history is reused.
    public func commit(_ chain: BuildChain, names: [String]) throws -> ImageRecord {
        let s = try build(chain)
        let familiar = try names.map { n -> String in
            let ref = try ImageReference.parse(n)
            if ref.digest != nil { throw BockerError(.invalidArgument, "invalid tag '\(n)': a tag cannot hold a digest") }
            return ref.familiar
        }
        return try store.withLock {
            guard s.layers.allSatisfy(store.hasLayer) else { throw BockerError(.io, "a layer of the build went away; build again") }
            let same = store.listImages().last {
                $0.layers == s.layers && $0.config == s.config && $0.history == s.history && $0.author == s.author
                    && (familiar.isEmpty || $0.names.contains(familiar[0]))
            }
            var img: ImageRecord
            if let same { img = same } else {
                img = try store.saveNewImage(source: "<none>", layers: s.layers, config: s.config)
                img.history = s.history
                img.author = s.author
                try store.replaceImage(img)
            }
            for n in familiar { try store.claimName(n, for: img.id) }
            return try store.image(img.id)
        }
    }
}
