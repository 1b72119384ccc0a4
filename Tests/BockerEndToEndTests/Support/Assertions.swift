import Glibc
import Testing

extension BockerFixture {
    /// "Nothing left behind": no mount under the temp dir in this mount namespace (other than the
    /// fixture's own btrfs mount at `root`), no `/sys/fs/cgroup/*/bocker/<id>` for the removed
    /// containers, no process left in any cgroup of any container this test created, and no
    /// background bocker process still running.
    func expectNothingLeftBehind(removed: [String], sourceLocation: SourceLocation = #_sourceLocation) {
        let mounts = Host.mountPoints(under: tmp).filter { !(driver == "btrfs" && $0 == root) }
        #expect(mounts.isEmpty, "mounts left under \(tmp): \(mounts)", sourceLocation: sourceLocation)
        for id in removed {
            let dirs = Host.cgroupDirectories(forContainer: id)
            #expect(dirs.isEmpty, "cgroup directories left for removed container \(id): \(dirs)",
                    sourceLocation: sourceLocation)
            #expect(!Host.exists(root + "/containers/" + id),
                    "container directory left for removed container \(id)", sourceLocation: sourceLocation)
        }
        for id in seenContainers.union(removed) {
            let pids = Host.processes(inContainer: id)
            #expect(pids.isEmpty, "processes left in the cgroups of \(id): \(pids)", sourceLocation: sourceLocation)
        }
    }

    /// The cgroup file `/sys/fs/cgroup/<hierarchy>/bocker/<id>/<file>`, trimmed.
    func cgroupValue(_ hierarchy: String, _ id: String, _ file: String) -> String? {
        Host.readFile("/sys/fs/cgroup/\(hierarchy)/bocker/\(id)/\(file)").map(trimmed)
    }
}

/// The row of a table (ps, images) whose first column is `id`.
func row(_ id: String, in output: String) -> String? {
    splitLines(output).first { fields($0).first == id }
}

/// The memory limit cgroup v1 reports for a limit of `bytes`: rounded down to the page size.
func pageRounded(_ bytes: Int) -> Int {
    bytes / Host.pageSize * Host.pageSize
}

/// `Status:`-style fields of /proc/PID/status text.
func statusField(_ name: String, in text: String) -> String? {
    for line in splitLines(text) where line.hasPrefix(name + ":") {
        return trimmed(String(line.dropFirst(name.count + 1)))
    }
    return nil
}
