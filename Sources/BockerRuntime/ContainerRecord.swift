#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc
import BockerCgroups
import BockerCore
import BockerNetwork
import BockerStore

/// Where a container is in its life. Every verb asks the state before acting:
/// created → running → exited (→ running again on start), and removing on the way out.
public enum ContainerState: String, Codable, Sendable {
    case created, running, exited, removing

    public var canStart: Bool { self == .created || self == .exited }
    public var canExec: Bool { self == .running }
    /// Removing a running container needs force (it is killed first).
    public var needsForceToRemove: Bool { self == .running }
}

/// `--restart no|on-failure[:N]|always|unless-stopped`, carried out by the container's monitor.
public struct RestartPolicy: Codable, Equatable, Sendable {
    public var name: String
    public var maximumRetryCount: Int

    public init(name: String = "no", maximumRetryCount: Int = 0) {
        self.name = name
        self.maximumRetryCount = maximumRetryCount
    }

    public static func parse(_ s: String) throws -> RestartPolicy {
        let parts = s.split(separator: ":", maxSplits: 1).map(String.init)
        switch parts.first ?? "" {
        case "no", "always", "unless-stopped":
            guard parts.count == 1 else { break }
            return RestartPolicy(name: parts[0])
        case "on-failure":
            if parts.count == 1 { return RestartPolicy(name: "on-failure") }
            if let n = Int(parts[1]), n >= 0 { return RestartPolicy(name: "on-failure", maximumRetryCount: n) }
        default: break
        }
        throw BockerError(.invalidArgument, "invalid restart policy '\(s)': use no, on-failure[:N], always or unless-stopped")
    }

    /// Whether a container that exited with `code`, after `restarts` policy restarts, runs again.
    public func shouldRestart(exitCode code: Int32, restarts: Int, stoppedByUser: Bool) -> Bool {
        if stoppedByUser { return false }
        switch name {
        case "always", "unless-stopped": return true
        case "on-failure": return code != 0 && (maximumRetryCount == 0 || restarts < maximumRetryCount)
        default: return false
        }
    }
}

/// Everything bocker knows about one container, stored as containers/<id>/container.json.
public struct ContainerRecord: Codable, Sendable {
    public var id: String
    public var name: String?
    public var image: String
    public var imageSource: String
    public var layers: [String]
    /// The command as the user gave it (what `ps` shows).
    public var command: [String]
    /// What is executed: entrypoint + command, after the shell rule.
    public var argv: [String]
    public var env: [String]
    public var workdir: String
    public var hostname: String
    public var user: String?
    public var resources: CgroupResources
    /// "bridge" (default), "none", "host", or a user network's name.
    public var networkMode: String?
    public var ports: [PortMapping]?
    /// Address, veth and port rules while running (nil otherwise).
    public var networkState: NetworkAttachment?
    public var mounts: [MountSpec]?
    public var restartPolicy: RestartPolicy?
    /// Restarts the policy made (not manual ones).
    public var restartCount: Int?
    /// Set by `stop`/`kill` so the monitor does not restart what the user stopped.
    public var stopRequested: Bool?
    public var oomKilled: Bool?
    /// Remove the container when it exits for good (`--rm`).
    public var autoRemove: Bool?
    /// Run bocker's init as PID 1 (reaps zombies, forwards signals).
    public var useInit: Bool?
    /// Give the command a pseudo-terminal (`-t`).
    public var tty: Bool?
    public var created: Double
    public var state: ContainerState
    public var pid: Int32?
    public var pidStartTime: UInt64?
    /// The bocker process that started the container and collects its output and exit code.
    /// When it is gone (killed), the container is exited, whatever is still dying in it.
    public var monitorPid: Int32?
    public var monitorStartTime: UInt64?
    public var startedAt: Double?
    public var finishedAt: Double?
    public var exitCode: Int32?
    public var error: String?

    /// The state as it really is: a record saying running whose process is gone is exited.
    public var liveState: ContainerState {
        if state == .running, !isProcessAlive || !isMonitorAlive { return .exited }
        return state
    }

    public var isMonitorAlive: Bool {
        guard let pid = monitorPid, let start = monitorStartTime else { return true }
        return ProcessTable.startTime(of: pid) == start
    }

    public var isProcessAlive: Bool {
        guard let pid = pid, let start = pidStartTime else { return false }
        return ProcessTable.startTime(of: pid) == start
    }
}

