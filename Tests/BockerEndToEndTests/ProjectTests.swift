import Glibc
import Testing

/// `require "bocker.project"`: multi-container projects as Lua programs, driven through
/// `bocker script FILE up|down|ps|logs|exec …` with the bundled examples.
@Suite("project: orchestration in Lua")
struct ProjectTests {
    static let blog = BockerFixture.packageRoot + "/scripts/examples/blog.lua"
    static let replicas = BockerFixture.packageRoot + "/scripts/examples/replicas.lua"

    /// One `ps --format json` row.
    struct Row: Equatable {
        var id: String, name: String, service: String, state: String, exitCode: Int?
    }

    /// The project's containers by name, from `bocker script FILE ps --format json`.
    private func ps(_ f: BockerFixture, _ script: String, env: [String: String] = [:],
                    sourceLocation: SourceLocation = #_sourceLocation) -> [String: Row] {
        let r = f.run(["script", script, "ps", "--format", "json"], env: env)
        #expect(r.status == 0, "ps: \(r)", sourceLocation: sourceLocation)
        var rows: [String: Row] = [:]
        for line in r.stdoutLines {
            func field(_ key: String) -> String? {
                guard let m = line.firstMatch(of: try! Regex("\"\(key)\":\"?([^\",}]*)\"?")) else { return nil }
                return String(m.output[1].substring ?? "")
            }
            guard let id = field("ID"), let name = field("Name") else { continue }
            rows[name] = Row(id: id, name: name, service: field("Service") ?? "", state: field("State") ?? "",
                             exitCode: field("ExitCode").flatMap { Int($0) })
        }
        return rows
    }

    /// Names of the store's networks and volumes (`network ls`, `volume ls`), sorted.
    private func networks(_ f: BockerFixture) -> [String] {
        f.run(["network", "ls"]).stdoutLines.dropFirst().compactMap { fields($0).first }.sorted()
    }

    private func volumes(_ f: BockerFixture) -> [String] {
        f.run(["volume", "ls"]).stdoutLines.dropFirst().compactMap { fields($0).last }.sorted()
    }

    @Test("blog.lua: up reaches every condition, up again changes nothing, a changed env recreates one service, down removes exactly the project")
    func blogLifecycle() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            // Things that are not the project's: down must leave them alone.
            #expect(f.run(["volume", "create", "blog_keep"]).status == 0)
            #expect(f.run(["network", "create", "other"]).status == 0)
            let (bystander, bystanderId) = f.runNew(["run", "-d", "--name", "blog-bystander", "--label", "bocker.project=other",
                                                     "--network", "none", img, "sleep", "600"])
            #expect(bystander.status == 0, "\(bystander)")

            let up = f.run(["script", Self.blog, "up", img])
            #expect(up.status == 0, "up: \(up)")
            for line in ["Network blog_default  Created", "Volume blog_content  Created", "Container blog-seed-1  Exited (0)",
                         "Container blog-web-1  Healthy", "Container blog-worker-1  Exited (0)"] {
                #expect(up.stdoutLines.contains(line), "up did not say '\(line)': \(up)")
            }
            // seed ran before web started; worker only after web was healthy.
            let order = up.stdoutLines
            if let seedDone = order.firstIndex(of: "Container blog-seed-1  Exited (0)"),
               let webStart = order.firstIndex(of: "Container blog-web-1  Started"),
               let healthy = order.firstIndex(of: "Container blog-web-1  Healthy"),
               let workerStart = order.firstIndex(of: "Container blog-worker-1  Started") {
                #expect(seedDone < webStart && healthy < workerStart, "dependency order: \(up)")
            } else {
                Issue.record("missing progress lines: \(up)")
            }
            let first = ps(f, Self.blog)
            #expect(Set(first.keys) == ["blog-seed-1", "blog-web-1", "blog-worker-1"], "\(first)")
            #expect(first["blog-seed-1"]?.state == "exited" && first["blog-seed-1"]?.exitCode == 0, "\(first)")
            #expect(first["blog-web-1"]?.state == "running", "\(first)")
            #expect(first["blog-worker-1"]?.state == "exited" && first["blog-worker-1"]?.exitCode == 0, "\(first)")

            // The job's content, through the published port, from the namespace's 127.0.0.1.
            let page = n.httpGet("http://127.0.0.1:8080/")
            #expect(page.status == 0 && page.stdout == "<h1>Hello from bocker</h1>\n", "\(page)")
            // The worker reached web by its service name.
            let logs = f.run(["script", Self.blog, "logs", "worker"])
            #expect(logs.status == 0, "\(logs)")
            #expect(logs.stdoutLines == ["worker-1 | worker: web says <h1>Hello from bocker</h1>"], "\(logs)")
            let exec = f.run(["script", Self.blog, "exec", "web", "cat", "/data/index.html"])
            #expect(exec.status == 0 && exec.stdout == "<h1>Hello from bocker</h1>\n", "\(exec)")

            // Idempotent: nothing created, recreated or started; the same containers.
            let again = f.run(["script", Self.blog, "up", img])
            #expect(again.status == 0, "second up: \(again)")
            #expect(!again.stdout.contains("Created") && !again.stdout.contains("Started") && !again.stdout.contains("Recreated"),
                    "the second up changed something: \(again)")
            #expect(ps(f, Self.blog) == first, "container ids or states changed")

            // A changed env of seed: seed alone is recreated and rerun; web serves the new page.
            let changed = f.run(["script", Self.blog, "up", img], env: ["BLOG_TITLE": "Second edition"])
            #expect(changed.status == 0, "up with BLOG_TITLE: \(changed)")
            #expect(changed.stdoutLines.contains("Container blog-seed-1  Recreated"), "\(changed)")
            let after = ps(f, Self.blog)
            #expect(after["blog-seed-1"]?.id != first["blog-seed-1"]?.id, "seed was not recreated")
            #expect(after["blog-seed-1"]?.exitCode == 0, "\(after)")
            #expect(after["blog-web-1"] == first["blog-web-1"], "web changed: \(after)")
            #expect(after["blog-worker-1"] == first["blog-worker-1"], "worker changed: \(after)")
            let page2 = n.httpGet("http://127.0.0.1:8080/")
            #expect(page2.stdout == "<h1>Second edition</h1>\n", "\(page2)")

            // What down must remove: the network's bridge, web's DNAT rules.
            let probe = try f.writeFile("probe.lua", "print(bocker.network.get('blog_default').bridge)\n")
            let bridge = trimmed(f.run(["script", probe]).stdout)
            #expect(!bridge.isEmpty && n.links().contains(bridge), "bridge \(bridge) not in \(n.links())")
            #expect(n.natRules().contains { $0.contains("8080") }, "no DNAT rule for 8080: \(n.natTable())")

            let down = f.run(["script", Self.blog, "down", "--volumes"])
            #expect(down.status == 0, "down: \(down)")
            #expect(ps(f, Self.blog).isEmpty, "project containers left")
            #expect(f.containerIds() == Set([bystanderId].compactMap { $0 }), "containers: \(f.containerIds())")
            #expect(networks(f) == ["bridge", "other"], "networks: \(networks(f))")
            #expect(volumes(f) == ["blog_keep"], "volumes: \(volumes(f))")
            #expect(!n.links().contains(bridge), "bridge \(bridge) left: \(n.links())")
            #expect(n.vethLinksAfterTeardown().isEmpty, "veths left: \(n.vethLinks())")
            #expect(!n.natRules().contains { $0.contains("8080") }, "DNAT rule left: \(n.natTable())")
            #expect(!Host.exists(f.root + "/projects/blog"), "the project's state folder is left")
            let mounts = Host.mountPoints(under: f.root).filter { m in
                !(bystanderId.map { m.contains($0) } ?? false)
            }
            #expect(mounts.isEmpty, "mounts left: \(mounts)")
            // down again: nothing to do, still fine.
            let down2 = f.run(["script", Self.blog, "down", "--volumes"])
            #expect(down2.status == 0 && down2.stdout.isEmpty, "\(down2)")
        }
    }

    @Test("up starts independent services together and checks them together; up --sequential waits for each before the next")
    func parallelAndSequential() throws {
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            // Two independent services, each healthy a moment after it starts.
            let script = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "par", stop_timeout = 2 }
                for _, name in ipairs { "a", "b" } do
                  p:service(name) { image = "\(img)", init = true, command = "sleep 0.5 && touch /tmp/ready && exec sleep 600",
                                    healthcheck = { test = "test -f /tmp/ready", interval = 0.1, retries = 100 } }
                end
                return p:main(arg)

                """)
            for sequential in [false, true] {
                let r = f.run(["script", script, "up"] + (sequential ? ["--sequential"] : []))
                #expect(r.status == 0, "\(r)")
                let aHealthy = r.stdoutLines.firstIndex(of: "Container par-a-1  Healthy") ?? -1
                let bStarted = r.stdoutLines.firstIndex(of: "Container par-b-1  Started") ?? -1
                #expect(aHealthy >= 0 && bStarted >= 0, "\(r)")
                if sequential {
                    #expect(aHealthy < bStarted, "--sequential started b before a was healthy: \(r)")
                } else {
                    #expect(bStarted < aHealthy, "b waited for a, which it does not depend on: \(r)")
                }
                #expect(f.run(["script", script, "down"]).status == 0)
            }
            #expect(f.containerIds().isEmpty, "containers left: \(f.containerIds())")
        }
    }

    @Test("a broken script: one line naming the file and line; nothing is created")
    func brokenScript() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let typo = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "broken" }
                p:service "db" { image = "\(img)", command = "sleep 600" }
                p:service "web" { image = "\(img)", comand = "httpd -f" }
                return p:main(arg)

                """)
            let r = f.run(["script", typo, "up"])
            #expect(r.status == 1, "\(r)")
            #expect(r.allLines == [typo + ":4: service 'web': unknown key 'comand' (did you mean 'command'?)"], "\(r)")

            let dep = try f.writeFile("dep.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "broken" }
                p:service "web" { image = "\(img)", command = "sleep 600",
                                  depends_on = { dbb = "healthy" } }
                p:service "db" { image = "\(img)", command = "sleep 600" }
                return p:main(arg)

                """)
            let d = f.run(["script", dep, "up"])
            #expect(d.status == 1, "\(d)")
            #expect(d.allLines == [dep + ":3: service 'web' depends on 'dbb', which is not declared (did you mean 'db'?)"], "\(d)")

            let lua = try f.writeFile("lua.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "broken" }
                p:service "web" { image = "\(img)", command = "sleep 600" }
                local settings = nil
                p:service "db" { image = settings.image }
                return p:main(arg)

                """)
            let l = f.run(["script", lua, "up"])
            #expect(l.status == 1, "\(l)")
            #expect(l.allLines.count == 1 && l.allLines.first?.hasPrefix(lua + ":5: attempt to index a nil value") == true, "\(l)")

            #expect(f.containerIds().isEmpty, "containers were created: \(f.containerIds())")
            #expect(networks(f) == ["bridge"], "networks: \(networks(f))")
            #expect(n.links() == ["lo"], "links: \(n.links())")
        }
    }

    @Test("a failing healthcheck names the service and its line; dependents are not started; with --no-rollback it stays for down")
    func unhealthy() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let script = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "sick" }
                p:service "web" { image = "\(img)", command = "sleep 600", init = true, ports = { "8090:80" },
                                  healthcheck = { test = "echo not yet >&2; exit 3", interval = 0.05, retries = 3 } }
                p:service "client" { image = "\(img)", command = "sleep 600", depends_on = { web = "healthy" } }
                return p:main(arg)

                """)
            let r = f.run(["script", script, "up", "--no-rollback"])
            #expect(r.status == 1, "\(r)")
            #expect(r.stderrLines == [script + ":3: service 'web' is unhealthy after 3 checks: exit code 3: not yet"], "\(r)")
            let rows = ps(f, script)
            #expect(Set(rows.keys) == ["sick-web-1"], "only web should exist: \(rows)")

            let down = f.run(["script", script, "down"])
            #expect(down.status == 0, "\(down)")
            #expect(f.containerIds().isEmpty, "containers left: \(f.containerIds())")
            #expect(networks(f) == ["bridge"], "networks: \(networks(f))")
            #expect(n.vethLinksAfterTeardown().isEmpty, "veths left: \(n.vethLinks())")
            #expect(!n.natRules().contains { $0.contains("8090") }, "DNAT rule left: \(n.natTable())")
            #expect(!Host.exists(f.root + "/projects/sick"), "state folder left")
        }
    }

    @Test("up --timeout: a healthcheck that never passes (and hangs) fails up within the timeout, naming the service; what up made is gone")
    func upTimeoutRollsBack() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            // A bystander of another project and a volume that is not the project's: kept.
            #expect(f.run(["volume", "create", "keep"]).status == 0)
            let script = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "stuck", stop_timeout = 2 }
                p:volume "data"
                p:service "db" { image = "\(img)", command = "sleep 600", init = true, volumes = { "data:/data" } }
                p:service "web" { image = "\(img)", command = "sleep 600", init = true, ports = { "8091:80" },
                                  healthcheck = { test = { "CMD", "sleep", "100" } } }
                p:service "client" { image = "\(img)", command = "sleep 600", init = true, depends_on = { web = "healthy" } }
                return p:main(arg)

                """)
            let clock = ContinuousClock()
            let t0 = clock.now
            let r = f.run(["script", script, "up", "--timeout", "3"], timeout: 60)
            let took = clock.now - t0
            #expect(r.status == 1, "\(r)")
            // Not before the timeout; well before the check's own 100 s or Docker's 30 s timeout.
            #expect(took >= .seconds(3) && took < .seconds(15), "up took \(took): \(r)")
            #expect(r.stderrLines.count == 1 && r.stderrLines.first?.hasPrefix(
                script + ":5: service 'web' is not healthy after 3s (up's timeout)") == true, "\(r)")
            #expect(r.stderr.contains("also waiting: client"), "\(r)")
            #expect(r.stdoutLines.contains("Container stuck-db-1  Started") && r.stdoutLines.contains("Rolling back"), "\(r)")
            #expect(!r.stdout.contains("stuck-client-1"), "client started: \(r)")
            // Everything up made is gone, as after down -v; what was there before is not.
            #expect(f.containerIds().isEmpty, "containers left: \(f.containerIds())")
            #expect(networks(f) == ["bridge"], "networks: \(networks(f))")
            #expect(volumes(f) == ["keep"], "volumes: \(volumes(f))")
            #expect(n.vethLinksAfterTeardown().isEmpty, "veths left: \(n.vethLinks())")
            #expect(!n.natRules().contains { $0.contains("8091") }, "DNAT rule left: \(n.natTable())")
            #expect(!Host.exists(f.root + "/projects/stuck"), "state folder left")
            // down has nothing to do.
            let down = f.run(["script", script, "down", "-v"])
            #expect(down.status == 0 && down.stdout.isEmpty, "\(down)")
        }
    }

    @Test("healthchecks get Docker's defaults: interval 30s, timeout 30s, retries 3")
    func healthDefaults() throws {
        try BockerFixture.with { f in
            let script = try f.writeFile("deploy.lua", """
                local project = require "bocker.project"
                local p = project.new { name = "defaults" }
                p:service "web" { image = "img", command = "httpd -f", healthcheck = "wget -qO- http://127.0.0.1/" }
                assert(project.defaults.health.interval == 30 and project.defaults.health.timeout == 30
                       and project.defaults.health.retries == 3 and project.defaults.health.start_period == 0)
                return p:main(arg)

                """)
            let r = f.run(["script", script, "export", "kube"])
            #expect(r.status == 0, "\(r)")
            for line in ["periodSeconds: 30", "timeoutSeconds: 30", "failureThreshold: 3"] {
                #expect(r.stdoutLines.contains { trimmed($0) == line }, "no '\(line)': \(r)")
            }
        }
    }

    @Test("replicas.lua: computed env per replica; a migration task whose exec output decides; a rolling update never has fewer healthy replicas than wanted")
    func replicasMigrationAndRollout() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let env = ["REPLICAS": "2", "BOCKER_EXAMPLE_IMAGE": img]
            func page(_ i: Int, _ e: [String: String]) -> String {
                f.run(["script", Self.replicas, "exec", "--index", "\(i)", "app", "cat", "/www/index.html"], env: e).stdout
            }
            let up = f.run(["script", Self.replicas, "up"], env: env)
            #expect(up.status == 0, "up: \(up)")
            #expect(up.stdoutLines.contains("migrate: schema 2"), "\(up)")
            #expect(page(1, env) == "app 1 (primary) v1 schema 2\n" && page(2, env) == "app 2 (secondary) v1 schema 2\n")
            let before = ps(f, Self.replicas, env: env)
            #expect(Set(before.keys) == ["replicas-db-1", "replicas-app-1", "replicas-app-2"], "\(before)")

            // The migration reads schema 2 and refuses to go back to 1: up fails, nothing changes.
            var older = env
            older["SCHEMA_VERSION"] = "1"
            let refused = f.run(["script", Self.replicas, "up"], env: older)
            #expect(refused.status == 1, "\(refused)")
            #expect(refused.stderr.contains("task 'migrate' failed: the database is at schema 2, newer than this deploy's 1"),
                    "\(refused)")
            #expect(ps(f, Self.replicas, env: env) == before, "containers changed after a refused migration")

            // v2, one replica at a time: each new container is healthy before an old one goes.
            var v2 = env
            v2["APP_VERSION"] = "2"
            let roll = f.run(["script", Self.replicas, "rollout"], env: v2, timeout: 120)
            #expect(roll.status == 0, "rollout: \(roll)")
            let lines = roll.stdoutLines
            func at(_ line: String) -> Int {
                guard let k = lines.firstIndex(of: line) else { Issue.record("no '\(line)': \(roll)"); return -1 }
                return k
            }
            for i in 1...2 {
                let started = at("Container replicas-app-\(i)-b  Started")
                let healthy = at("Container replicas-app-\(i)-b  Healthy")
                let removed = at("Container replicas-app-\(i)  Removed")
                #expect(started < healthy && healthy < removed, "replica \(i) out of order: \(roll)")
                // What runs after the step (the example lists the project's containers): 2 replicas.
                let step = lines.first { $0.hasPrefix("rollout: replica \(i) replaced") } ?? ""
                #expect(step.contains("running: 2 "), "step \(i): \(roll)")
            }
            // One replica at a time: replica 2's new container starts after replica 1's old one went.
            #expect(at("Container replicas-app-1  Removed") < at("Container replicas-app-2-b  Started"), "\(roll)")
            let after = ps(f, Self.replicas, env: v2)
            #expect(Set(after.keys) == ["replicas-db-1", "replicas-app-1-b", "replicas-app-2-b"], "\(after)")
            #expect(after["replicas-db-1"] == before["replicas-db-1"], "db was touched")
            #expect(page(1, v2) == "app 1 (primary) v2 schema 2\n" && page(2, v2) == "app 2 (secondary) v2 schema 2\n")

            // up with the same settings sees the rolled-out containers as current.
            let again = f.run(["script", Self.replicas, "up"], env: v2)
            #expect(again.status == 0 && !again.stdout.contains("Created") && !again.stdout.contains("Started"), "\(again)")
            #expect(ps(f, Self.replicas, env: v2) == after, "up after the rollout changed containers")

            // One replica fewer: the second is removed.
            var fewer = v2
            fewer["REPLICAS"] = "1"
            let shrink = f.run(["script", Self.replicas, "up"], env: fewer)
            #expect(shrink.status == 0, "\(shrink)")
            let now = ps(f, Self.replicas, env: fewer)
            #expect(Set(now.keys) == ["replicas-db-1", "replicas-app-1-b"], "\(now)")
            #expect(now["replicas-app-1-b"] == after["replicas-app-1-b"], "app 1 was touched")

            let down = f.run(["script", Self.replicas, "down", "-v"], env: fewer)
            #expect(down.status == 0, "\(down)")
            #expect(f.containerIds().isEmpty && networks(f) == ["bridge"] && volumes(f).isEmpty,
                    "left: \(f.containerIds()) \(networks(f)) \(volumes(f))")
            #expect(n.vethLinksAfterTeardown().isEmpty, "veths left: \(n.vethLinks())")
        }
    }
}
