import BockerCore
import BockerStore

/// Where a build chain starts: nothing (`scratch`), an image (pulled when missing), or the end
/// of another chain (a stage built on a stage).
public enum BuildBase: Sendable {
    case scratch
    case image(String)
    case chain(BuildChain)
}

/// Where COPY/ADD take their files from.
public enum CopySource: Sendable {
    /// A directory on the host; `included` (relative paths, `/`-separated) is what
    /// `.dockerignore` lets through (nil: everything).
    case context(dir: String, included: Set<String>?)
    /// The filesystem at the end of another chain (a stage).
    case chain(BuildChain)
    /// An image's filesystem (pulled when missing).
    case image(String)
}

/// A RUN step: argv as given (shell form: the one command string, run through the config's
/// shell), extra environment (the build args it uses), and its network.
public struct RunStep: Sendable {
    public var command: [String]
    public var shellForm: Bool
    public var env: [String]
    public var network: String
    public init(command: [String], shellForm: Bool, env: [String] = [], network: String = "bridge") {
        self.command = command
        self.shellForm = shellForm
        self.env = env
        self.network = network
    }
}

/// A COPY or ADD step: sources (relative to the source; `*?[` globs allowed), destination
/// (relative to the working directory unless absolute), owner and mode overrides.
public struct CopyStep: Sendable {
    public var sources: [String]
    public var destination: String
    public var from: CopySource
    public var chown: String?
    public var chmod: String?
    /// ADD: local tar archives (plain, gzip, zstd, bzip2, xz) are unpacked at the destination.
    public var add = false
    public init(sources: [String], destination: String, from: CopySource, chown: String? = nil, chmod: String? = nil) {
        self.sources = sources
        self.destination = destination
        self.from = from
        self.chown = chown
        self.chmod = chmod
    }
}

/// A change of the image config alone (an empty-layer history entry).
public enum ConfigChange: Sendable {
    case env([(String, String)])
    case workdir(String)
    case user(String)
    case cmd([String])
    case entrypoint([String])
    case shell([String])
    case expose([String])
    case labels([(String, String)])
    case volumes([String])
    case stopSignal(String)
    case healthcheck(HealthcheckConfig)
    case onBuild([String])
    case author(String)
    /// Nothing changes; the entry only records the instruction (ARG).
    case none
}

/// One step of a chain.
public enum BuildStep: Sendable {
    case run(RunStep)
    case copy(CopyStep)
    case config(ConfigChange)
}

/// An immutable chain of build steps: a base or a parent chain, plus one step. Appending makes a
/// new chain that shares this one, so a chain used by several others is built once per build.
/// `display` is the instruction as shown in progress and history (`RUN apk add curl`).
public final class BuildChain: @unchecked Sendable {
    public let base: BuildBase
    public let parent: BuildChain?
    public let step: BuildStep?
    public let display: String
    /// The chain's build options (the first chain's, inherited by every step).
    public let options: BuildOptions
    /// Where the step comes from (`Dockerfile:7`): a failure of the step is reported with it.
    public let location: String?

    public init(base: BuildBase, options: BuildOptions, display: String? = nil, location: String? = nil) {
        self.base = base
        self.parent = nil
        self.step = nil
        self.options = options
        self.location = location
        switch base {
        case .scratch: self.display = display ?? "FROM scratch"
        case .image(let r): self.display = display ?? "FROM " + r
        case .chain(let c): self.display = display ?? "FROM " + (c.options.stageName ?? "<stage>")
        }
    }

    init(parent: BuildChain, step: BuildStep, display: String, location: String?) {
        self.base = parent.base
        self.parent = parent
        self.step = step
        self.display = display
        self.options = parent.options
        self.location = location
    }

    /// A new chain: this one plus `step`.
    public func appending(_ step: BuildStep, display: String, location: String? = nil) -> BuildChain {
        BuildChain(parent: self, step: step, display: display, location: location)
    }

    /// Steps from the base to here (the base chain's node first).
    var nodes: [BuildChain] {
        var out: [BuildChain] = []
        var c: BuildChain? = self
        while let n = c { out.append(n); c = n.parent }
        return out.reversed()
    }

    /// Chains this one needs built first: its base chain and every `--from` chain.
    var dependencies: [BuildChain] {
        var deps: [BuildChain] = []
        if case .chain(let c) = base { deps.append(c) }
        for n in nodes {
            if case .copy(let cp)? = n.step, case .chain(let c) = cp.from { deps.append(c) }
        }
        return deps
    }
}

/// Options of a build: caching, pulling, the default RUN network, a stage name for messages.
public struct BuildOptions: Sendable {
    /// Run every step even when the cache has it (the results still go into the cache).
    public var noCache = false
    /// Pull the base images even when they are in the store.
    public var pull = false
    public var stageName: String?
    public init() {}
}

/// What a chain amounts to: the layers (bottom first), the config and history, and the cache key.
public struct BuildState: Sendable {
    public var layers: [String]
    public var config: ImageConfig
    public var history: [ImageHistory]
    public var key: String
    public var author: String?
}

/// One progress event of a build.
public enum BuildEvent: Sendable {
    /// A step begins: its instruction (`display`) and where it sits.
    case step(display: String, stage: String?)
    /// The step was found in the cache.
    case cached
    /// A line of a RUN step's output.
    case output(String)
    /// The step is done; `id` is the short id of what it produced (a layer or the config's key).
    case done(id: String)
    /// Pulling a base image (a status line).
    case pull(String)
}
