import Glibc
import BockerCore

extension Runtime {
    /// The container's cgroup as `create` made it (device allow-list and limits from the
    /// record), made again when it is gone: after a reboot the cgroup filesystem starts empty,
    /// and `bocker system start-restartable` starts the containers of the last boot.
    func ensureCgroup(_ rec: ContainerRecord) throws {
        let cg = cgroup(of: rec.id)
        if cg.exists() { return }
        let devices = Runtime.deviceRules(privileged: rec.security?.privileged ?? false,
                                          devices: try (rec.security?.devices ?? []).map(ContainerDevice.init))
        try cg.create(devices: devices)
        try cg.apply(rec.resources)
    }
}
