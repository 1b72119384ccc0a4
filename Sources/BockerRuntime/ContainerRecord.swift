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

