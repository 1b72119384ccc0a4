import Glibc
import Testing

/// Kubernetes schema validation for `export kube` / `compose convert --format kube`, with the
/// PyPI package kubernetes-validate (its schemas are in the package: offline once installed).
/// scripts/dev/kube-validator.sh installs it into a virtualenv under .build (scripts/test.sh
/// runs it before the tests); the tests call the same script, which takes a lock, so parallel
/// tests never race one another into a half-made virtualenv.
enum KubeValidator {
    static let installer = BockerFixture.packageRoot + "/scripts/dev/kube-validator.sh"

    /// The validator's path, installed if missing; nil (with the reason recorded) when it cannot be.
    static func ensure() -> String? {
        let r = runTool([installer], timeout: 600)
        let tool = r.stdout.split(separator: "\n").last.map(String.init) ?? ""
        guard r.status == 0, access(tool, X_OK) == 0 else {
            Issue.record("cannot install kubernetes-validate with \(installer): \(r)")
            return nil
        }
        return tool
    }

    /// Validates YAML text against the Kubernetes 1.30 schemas in strict mode (unknown fields
    /// are errors), and checks every object's name is a DNS-1123 label. Returns the problems.
    static func problems(_ yaml: String, label: String) throws -> [String] {
        guard let tool = ensure() else { return ["kubernetes-validate is not available"] }
        let dir = "/tmp/bocker-kube-" + String(UInt32.random(in: 0...UInt32.max), radix: 16)
        try Host.makeDirectory(dir)
        defer { runTool(["rm", "-rf", dir]) }
        let file = dir + "/objects.yaml"
        try Host.writeFile(file, yaml)
        var out: [String] = []
        let r = runTool([tool, "--strict", "-k", "1.30.0", "--quiet", file], timeout: 120)
        if r.status != 0 { out.append("\(label): kubernetes-validate: \(r)") }
        // metadata.name of each object (the line after "metadata:" at the object's top level).
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var names: [String] = []
        for (i, l) in lines.enumerated() where l.hasPrefix("  name: ") || l.trimmingPrefix(" ").hasPrefix("claimName: ") {
            _ = i
            let v = l.split(separator: ":", maxSplits: 1)[1].trimmingPrefix(" ").replacing("\"", with: "")
            names.append(String(v))
        }
        if names.isEmpty { out.append("\(label): no object names found in:\n\(yaml)") }
        let dns1123 = try Regex("^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
        for n in names where n.wholeMatch(of: dns1123) == nil {
            out.append("\(label): '\(n)' is not a DNS-1123 label")
        }
        let kinds = lines.filter { $0.hasPrefix("kind: ") }
        if kinds.isEmpty { out.append("\(label): no objects") }
        return out
    }
}
