import Foundation
import Testing

@Suite("build: the pipeline example")
struct BuildPipelineTests {
    static let pipeline = BockerFixture.packageRoot + "/scripts/examples/pipeline.lua"

    @Test("pipeline.lua builds with the Lua API, tests in a container, pushes, deploys two services and prints Kubernetes YAML")
    func pipeline() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f) { reg in
                let base = try f.initImage()
                let r = f.run(["script", Self.pipeline, base, reg.host], timeout: 120)
                #expect(r.status == 0, "\(r)")
                let ref = "\(reg.host)/pipeline/app:1.0"
                for want in ["tests passed", "pushed \(ref) sha256:", "check-1 | check: web serves the app",
                             "kind: \"Deployment\"", "kind: \"Job\"", "image: \"\(ref)\""] {
                    #expect(r.stdout.contains(want), "missing '\(want)' in \(r)")
                }
                let inspect = runTool(f.commandPrefix + ["skopeo", "inspect", "--tls-verify=false", "docker://" + ref])
                #expect(inspect.status == 0 && inspect.stdout.contains("\"org.opencontainers.image.version\": \"1.0\""), "\(inspect)")
                // The project is down, the test container removed.
                #expect(f.containerIds().isEmpty, "\(f.containerIds())")

                // Without a registry the push is skipped, and the build comes from the cache.
                let again = f.run(["script", Self.pipeline, base], timeout: 120)
                #expect(again.status == 0 && again.stdout.contains("no registry given: push skipped"), "\(again)")
                #expect(again.stdout.components(separatedBy: "(cached)").count - 1 == 3, "\(again)")
            }
        }
    }
}
