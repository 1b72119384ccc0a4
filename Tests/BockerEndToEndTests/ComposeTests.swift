import Glibc
import Testing

/// `bocker compose`: compose files on the project API. Each test writes a compose file that uses
/// the busybox image `bocker init` makes (offline), brings it up in the fixture's own network
/// namespace, and checks what a compose user checks: it serves, `ps` lists what is active, a
/// second `up` changes nothing, `down -v` leaves nothing behind.
@Suite("compose: compose.yaml over the project API")
struct ComposeTests {
    /// `compose ps -a --format json`, as name → (id, service, state).
    static func ps(_ f: BockerFixture, _ dir: String, _ extra: [String] = [], env: [String: String] = [:],
                   sourceLocation: SourceLocation = #_sourceLocation) -> [String: (id: String, service: String, state: String)] {
        let r = f.run(["compose"] + extra + ["ps", "-a", "--format", "json"], env: env, cwd: dir)
        #expect(r.status == 0, "compose ps: \(r)", sourceLocation: sourceLocation)
        var out: [String: (id: String, service: String, state: String)] = [:]
        for row in parseJSONLines(r.stdout) ?? [] {
            if let name = row["Name"] as? String {
                out[name] = (row["ID"] as? String ?? "", row["Service"] as? String ?? "", row["State"] as? String ?? "")
            }
        }
        return out
    }

    static func readLink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 256)
        let n = Glibc.readlink(path, &buf, buf.count - 1)
        guard n > 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The network namespace (net:[inode]) of each running container of the store.
    static func netns(_ f: BockerFixture, _ ids: [String]) -> [String] {
        ids.compactMap { id -> String? in
            guard let obj = (parseJSON(f.run(["inspect", id]).stdout) as? [Any])?.first, let pid = lcInt(obj, "State", "Pid"), pid > 0 else {
                return nil
            }
            return readLink("/proc/\(pid)/ns/net")
        }
    }

    /// The processes (pid and start time) that are in, or hold an fd of, one of these network
    /// namespaces. (Namespace inode numbers are reused once freed, so the same processes are
    /// looked for afterwards, not the same inodes.)
    static func holders(of wanted: Set<String>) -> Set<String> {
        var found = Set<String>()
        for pid in Host.listDirectory("/proc") where Int(pid) != nil {
            var holds = readLink("/proc/\(pid)/ns/net").map { wanted.contains($0) } ?? false
            if !holds {
                for fd in Host.listDirectory("/proc/\(pid)/fd") where readLink("/proc/\(pid)/fd/\(fd)").map({ wanted.contains($0) }) ?? false {
                    holds = true
                    break
                }
            }
            if holds, let start = startTime(pid) { found.insert(pid + "@" + start) }
        }
        return found
    }

    static func startTime(_ pid: String) -> String? {
        guard let stat = Host.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }

    /// Those of `processes` (pid@starttime) that still exist and are not zombies (an exited
    /// process has released its namespaces in do_exit; only its parent's wait is pending).
    static func stillRunning(_ processes: Set<String>) -> [String] {
        processes.filter { p in
            let pid = String(p.split(separator: "@")[0])
            if let stat = Host.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")"),
               let state = stat[stat.index(after: close)...].split(separator: " ").first, state == "Z" || state == "X" {
                return false
            }
            return startTime(pid).map { pid + "@" + $0 == p } ?? false
        }.sorted()
    }

    /// up -d, serves, ps exactly `expected`, up -d again changes nothing, down -v leaves no
    /// container, volume, network, veth, netns or state; the kube export validates.
    static func lifecycle(_ n: NetworkFixture, _ f: BockerFixture, dir: String, project: String, expected: Set<String>,
                          env: [String: String] = [:], extra: [String] = [], upArgs: [String] = ["-d"],
                          serves: [(url: String, body: String)], check: (() -> Void)? = nil,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
        let networksBefore = f.run(["network", "ls"]).stdoutLines.count
        let up = f.run(["compose"] + extra + ["up"] + upArgs, env: env, cwd: dir, timeout: 120)
        #expect(up.status == 0, "compose up: \(up)", sourceLocation: sourceLocation)
        for s in serves {
            let page = n.httpGet(s.url)
            #expect(page.status == 0 && page.stdout == s.body, "GET \(s.url): \(page)", sourceLocation: sourceLocation)
        }
        check?()
        // ps lists exactly the active services' running containers.
        let running = f.run(["compose"] + extra + ["ps", "--format", "json"], env: env, cwd: dir)
        let names = Set((parseJSONLines(running.stdout) ?? []).compactMap { $0["Name"] as? String })
        #expect(names == expected, "compose ps: \(running)", sourceLocation: sourceLocation)
        let first = ps(f, dir, extra, env: env)
        let namespaces = netns(f, first.values.filter { $0.state == "running" }.map { $0.id })
        #expect(namespaces.count == expected.count, "namespaces of \(first): \(namespaces)", sourceLocation: sourceLocation)
        let nsHolders = holders(of: Set(namespaces))
        #expect(nsHolders.count >= expected.count, "holders of \(namespaces): \(nsHolders)", sourceLocation: sourceLocation)

        let again = f.run(["compose"] + extra + ["up"] + upArgs, env: env, cwd: dir, timeout: 120)
        #expect(again.status == 0, "second up: \(again)", sourceLocation: sourceLocation)
        for word in ["Created", "Started", "Recreated", "Removed"] {
            #expect(!again.stdout.contains(word), "the second up did something (\(word)): \(again)", sourceLocation: sourceLocation)
        }
        let second = ps(f, dir, extra, env: env)
        #expect(second.mapValues { $0.id } == first.mapValues { $0.id }, "containers changed: \(first) → \(second)",
                sourceLocation: sourceLocation)

        let kube = f.run(["compose"] + extra + ["convert", "--format", "kube"], env: env, cwd: dir)
        #expect(kube.status == 0, "convert: \(kube)", sourceLocation: sourceLocation)
        let problems = try KubeValidator.problems(kube.stdout, label: project)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)

        let down = f.run(["compose"] + extra + ["down", "-v"], env: env, cwd: dir, timeout: 60)
        #expect(down.status == 0, "compose down -v: \(down)", sourceLocation: sourceLocation)
        #expect(f.containerIds().isEmpty, "containers left: \(f.containerIds())", sourceLocation: sourceLocation)
        let vols = f.run(["volume", "ls"]).stdoutLines.dropFirst()
        #expect(vols.isEmpty, "volumes left: \(Array(vols))", sourceLocation: sourceLocation)
        #expect(f.run(["network", "ls"]).stdoutLines.count == networksBefore, "networks left: \(f.run(["network", "ls"]))",
                sourceLocation: sourceLocation)
        #expect(n.vethLinksAfterTeardown().isEmpty, "veths left: \(n.vethLinks())", sourceLocation: sourceLocation)
        #expect(stillRunning(nsHolders).isEmpty, "processes still holding the containers' network namespaces: \(stillRunning(nsHolders))",
                sourceLocation: sourceLocation)
        #expect(!Host.exists(f.root + "/projects/" + project), "the project's state folder is left", sourceLocation: sourceLocation)
        #expect(Host.mountPoints(under: f.root).isEmpty, "mounts left: \(Host.mountPoints(under: f.root))", sourceLocation: sourceLocation)
    }

    static let mainFile = """
        # A healthcheck-gated depends_on, a named volume, ports, $$ escapes, ${VAR} and a profile.
        name: shop
        x-health: &health
          interval: 100ms
          timeout: 2s
          retries: 100
        services:
          db:
            image: ${IMG}
            init: true
            command: sh -c 'echo "stock=${STOCK:-7}" > /data/stock; exec httpd -f -p 5432 -h /data'
            volumes:
              - type: volume
                source: data
                target: /data
            healthcheck:
              <<: *health
              test: ["CMD", "wget", "-qO", "/dev/null", "http://127.0.0.1:5432/stock"]
          web:
            image: ${IMG}
            init: true
            environment:
              GREETING: hello
            command:
              - sh
              - -c
              - |
                mkdir -p /www && echo "$$GREETING from ${TITLE}: $$(wget -qO- http://db:5432/stock)" > /www/index.html
                exec httpd -f -p 80 -h /www
            ports:
              - "${WEB_PORT:-8080}:80"
              - target: 81
                published: 8081
            depends_on:
              db:
                condition: service_healthy
            healthcheck:
              <<: *health
              test: wget -qO- http://127.0.0.1/ >/dev/null
          debug:
            image: ${IMG}
            command: sleep 600
            profiles: [debug]
        volumes:
          data:

        """

    @Test("a compose file with a health-gated depends_on, a named volume, ports, $$, ${VAR} and a profile: up -d serves, ps lists the active services, up again changes nothing, down -v leaves nothing")
    func composeLifecycle() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let file = try f.writeFile("shop/compose.yaml", Self.mainFile)
            let dir = String(file.dropLast("/compose.yaml".count))
            _ = try f.writeFile("shop/.env", "TITLE=the .env file\nSTOCK=3\n")
            try Self.lifecycle(n, f, dir: dir, project: "shop", expected: ["shop-db-1", "shop-web-1"], env: ["IMG": img],
                               upArgs: ["-d", "--wait"],
                               serves: [("http://127.0.0.1:8080/", "hello from the .env file: stock=3\n")]) {
                // The environment wins over .env; the container saw $GREETING (from $$GREETING).
                let cfg = f.run(["compose", "config", "--format", "json"], env: ["IMG": img, "TITLE": "env"], cwd: dir)
                #expect(cfg.stdout.contains("$GREETING from env: $(wget"), "\(cfg)")
                #expect(!cfg.stdout.contains("debug"), "an inactive profile's service is in config: \(cfg)")
                let prof = f.run(["compose", "--profile", "debug", "config", "--services"], env: ["IMG": img], cwd: dir)
                #expect(prof.stdoutLines == ["db", "debug", "web"], "\(prof)")
            }
        }
    }

    @Test("run --rm, exec, stop, start, restart, pull (local images skipped), build with nothing to build")
    func otherCommands() throws {
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            let file = try f.writeFile("ops/compose.yaml", """
                services:
                  db:
                    image: ${IMG}
                    init: true
                    command: sleep 600
                    environment: {ROLE: db}
                    security_opt: [no-new-privileges]
                    logging: {driver: json-file, options: {max-size: 1m, max-file: "2"}}
                  tool:
                    image: ${IMG}
                    command: echo "tool default"
                    environment: {ROLE: tool}
                    volumes: ["./state:/state"]
                    ports: ["9000:9000"]
                    depends_on: [db]

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            let env = ["IMG": img]
            // run: the service's settings, its dependency started first, no published ports.
            // (./state does not exist: run makes it, as compose does for the short syntax.)
            let run = f.run(["compose", "run", "--rm", "-e", "EXTRA=1", "tool", "sh", "-c", "echo $ROLE $EXTRA; echo kept > /state/out; exit 3"],
                            env: env, cwd: dir)
            #expect(run.status == 3 && run.stdoutLines.last == "tool 1", "\(run)")
            #expect(run.stdoutLines.contains("Container ops-db-1  Started"), "\(run)")
            let names = Set(ComposeTests.ps(f, dir, env: env).keys)
            #expect(names == ["ops-db-1"], "run --rm left its container, or labelled it as the project's: \(names)")
            #expect(f.containerIds().count == 1, "\(f.containerIds())")
            #expect(Host.readFile(dir + "/state/out") == "kept\n", "the bind mount's folder was not made or not used")
            let nnp = f.run(["compose", "exec", "db", "grep", "NoNewPrivs", "/proc/self/status"], env: env, cwd: dir)
            #expect(nnp.status == 0 && nnp.stdout.hasSuffix("1\n"), "security_opt no-new-privileges not applied: \(nnp)")

            let exec = f.run(["compose", "exec", "-e", "X=2", "db", "sh", "-c", "echo $ROLE $X"], env: env, cwd: dir)
            #expect(exec.status == 0 && exec.stdout == "db 2\n", "\(exec)")
            let stop = f.run(["compose", "stop", "-t", "1", "db"], env: env, cwd: dir)
            #expect(stop.status == 0 && stop.stdoutLines == ["Container ops-db-1  Stopped"], "\(stop)")
            #expect(ComposeTests.ps(f, dir, env: env)["ops-db-1"]?.state == "exited", "\(ComposeTests.ps(f, dir, env: env))")
            let start = f.run(["compose", "start"], env: env, cwd: dir)
            #expect(start.status == 0 && start.stdoutLines == ["Container ops-db-1  Started"], "\(start)")
            let before = ComposeTests.ps(f, dir, env: env)["ops-db-1"]
            let restart = f.run(["compose", "restart", "-t", "1"], env: env, cwd: dir)
            #expect(restart.status == 0 && restart.stdoutLines == ["Container ops-db-1  Restarted"], "\(restart)")
            let after = ComposeTests.ps(f, dir, env: env)["ops-db-1"]
            #expect(after?.state == "running" && after?.id == before?.id, "\(String(describing: after))")

            let pull = f.run(["compose", "pull"], env: env, cwd: dir)
            #expect(pull.status == 0 && pull.stdoutLines == ["db  Skipped: \(img) is a local image", "tool  Skipped: \(img) is a local image"],
                    "\(pull)")
            // Nothing has build:, so there is nothing to build.
            let build = f.run(["compose", "build"], env: env, cwd: dir)
            #expect(build.status == 0 && build.stdout.isEmpty && build.stderr.isEmpty, "\(build)")
            // up without -d follows the logs until the containers exit.
            let att = try f.writeFile("att/compose.yaml", "services:\n  hello:\n    image: ${IMG}\n    command: sh -c 'echo one; echo two >&2; echo three'\n")
            let attached = f.run(["compose", "-f", att, "up"], env: env)
            #expect(attached.status == 0 && Array(attached.stdoutLines.suffix(2)) == ["hello-1 | one", "hello-1 | three"]
                    && attached.stderrLines == ["hello-1 | two"], "\(attached)")
            #expect(f.run(["compose", "-f", att, "down"], env: env).status == 0)

            // Without the file, -p finds the project by its labels and state folder.
            let fileless = f.run(["compose", "-p", "ops", "ps", "-q"], cwd: f.tmp)
            #expect(fileless.status == 0 && fileless.stdoutLines == [after?.id ?? "?"], "\(fileless)")
            let down = f.run(["compose", "-p", "ops", "down", "-t", "1"], cwd: f.tmp)
            #expect(down.status == 0 && down.stdoutLines == ["Container ops-db-1  Removed", "Network ops_default  Removed"], "\(down)")
            #expect(f.containerIds().isEmpty, "\(f.containerIds())")
            #expect(!Host.exists(f.root + "/projects/ops"), "the state folder is left")
        }
    }

    @Test("up pulls missing images (pull_policy), expose becomes a Kubernetes Service")
    func pullPolicyAndExpose() throws {
        try BockerFixture.with { f in
            let file = try f.writeFile("pp/compose.yaml", """
                services:
                  db:
                    image: 127.0.0.1:9/nope:1
                    expose: ["5432", "53/udp"]
                  web:
                    image: 127.0.0.1:9/web:1
                    pull_policy: never
                    depends_on: [db]

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            let up = f.run(["compose", "up", "-d"], cwd: dir)
            #expect(up.status == 1 && up.stdoutLines == ["Image 127.0.0.1:9/nope:1  Pulling"], "\(up)")
            #expect(up.stderrLines.count == 1 && up.stderr.hasPrefix("services.db: cannot pull 127.0.0.1:9/nope:1: "), "\(up)")
            #expect(f.containerIds().isEmpty && !Host.exists(f.root + "/projects"), "a failed pull left something")
            let kube = f.run(["compose", "convert", "--format", "kube"], cwd: dir)
            #expect(kube.status == 0, "\(kube)")
            #expect(kube.stdout.contains("name: \"tcp-5432\"") && kube.stdout.contains("name: \"udp-53\""), "\(kube)")
            let problems = try KubeValidator.problems(kube.stdout, label: "pp")
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            let bad = try f.writeFile("pp2/compose.yaml", "services: {web: {image: x, pull_policy: daily}}\n")
            let r = f.run(["compose", "-f", bad, "config"])
            #expect(r.status == 1 && r.stderrLines == ["services.web.pull_policy: 'daily' is not supported (use missing, always or never)"], "\(r)")
        }
    }

    @Test("extra_hosts (its own hosts file), dns, ulimits, shm_size, sysctls, cpus and stop_signal reach the container")
    func createOptionKeys() throws {
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            let file = try f.writeFile("opts/compose.yaml", """
                services:
                  app:
                    image: ${IMG}
                    command: ["sh", "-c", "trap 'echo got QUIT; exit 0' QUIT; while true; do sleep 0.1; done"]
                    extra_hosts: ["db.example:10.1.2.3", "gw=host-gateway"]
                    dns: [10.9.9.9]
                    dns_search: corp.example
                    ulimits: {nofile: {soft: 1000, hard: 2000}, nproc: 500}
                    shm_size: 16m
                    sysctls: {net.core.somaxconn: 1024}
                    cpus: 0.5
                    stop_signal: SIGQUIT
                  other:
                    image: ${IMG}
                    init: true
                    command: sleep 600

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            let env = ["IMG": img]
            let up = f.run(["compose", "up", "-d"], env: env, cwd: dir)
            #expect(up.status == 0, "\(up)")
            func exec(_ service: String, _ cmd: String) -> String {
                let r = f.run(["compose", "exec", service, "sh", "-c", cmd], env: env, cwd: dir)
                #expect(r.status == 0, "\(cmd): \(r)")
                return r.stdout
            }
            let hosts = exec("app", "cat /etc/hosts")
            let gateway = trimmed(f.run(["script", try f.writeFile("gw.lua", "print(bocker.network.get('opts_default').gateway)\n")]).stdout)
            #expect(hosts.contains("10.1.2.3\tdb.example\n") && hosts.contains("\(gateway)\tgw\n") && hosts.contains("\tother other-1 "),
                    "app's hosts (gateway \(gateway)): \(hosts)")
            let otherHosts = exec("other", "cat /etc/hosts")
            #expect(!otherHosts.contains("db.example") && otherHosts.contains("\tapp app-1 "), "other's hosts: \(otherHosts)")
            let resolv = exec("app", "cat /etc/resolv.conf")
            #expect(resolv.contains("nameserver 10.9.9.9") && resolv.contains("search corp.example"), "\(resolv)")
            // (The limits are set for the container's command, PID 1; exec'd processes are bocker's children.)
            let limits = exec("app", "grep -E 'open files|processes' /proc/1/limits").split(separator: "\n").map {
                $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            }
            #expect(limits == ["Max processes 500 500 processes", "Max open files 1000 2000 files"], "\(limits)")
            #expect(exec("app", "df -k /dev/shm | tail -n 1").split(separator: " ", omittingEmptySubsequences: true).dropFirst().first == "16384")
            #expect(exec("app", "cat /proc/sys/net/core/somaxconn") == "1024\n")
            let id = ComposeTests.ps(f, dir, env: env)["opts-app-1"]?.id ?? "?"
            let quota = f.cgroupValue("cpu", id, "cpu.cfs_quota_us") ?? f.cgroupValue("cpu,cpuacct", id, "cpu.cfs_quota_us")
            #expect(quota == "50000", "cpu.cfs_quota_us of \(id): \(String(describing: quota))")
            // stop sends the stop signal first: the trap answers it and the container exits 0.
            let stop = f.run(["compose", "stop", "-t", "30", "app"], env: env, cwd: dir)
            #expect(stop.status == 0, "\(stop)")
            let logs = f.run(["compose", "logs", "app"], env: env, cwd: dir)
            #expect(logs.stdoutLines == ["app-1 | got QUIT"], "\(logs)")
            #expect(f.run(["inspect", "--format", "{{.State.ExitCode}}", id]).stdout == "0\n")
            #expect(f.run(["compose", "down", "-t", "1"], env: env, cwd: dir).status == 0)
            #expect(f.containerIds().isEmpty && !Host.exists(f.root + "/projects/opts"), "\(f.containerIds())")
        }
    }

    @Test("network_mode, ipc and pid service:NAME join that service's first container, which starts first; remaking it remakes the joiner; convert --format kube warns")
    func joinServiceNamespaces() throws {
        try NetworkFixture.with { _, f in
            let img = try f.initImage()
            // The joiner comes first in the file: the implied dependency orders the start.
            let file = try f.writeFile("join/compose.yaml", """
                services:
                  side:
                    image: ${IMG}
                    command: sleep 600
                    network_mode: service:db
                    ipc: service:db
                    pid: service:db
                  db:
                    image: ${IMG}
                    command: sleep 600
                    ipc: shareable
                    environment:
                      - V=${V}

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            var env = ["IMG": img, "V": "1"]
            let up = f.run(["compose", "up", "-d"], env: env, cwd: dir)
            #expect(up.status == 0, "\(up)")
            func namespaces(_ service: String) -> String {
                let r = f.run(["compose", "exec", service, "sh", "-c", "for n in net ipc pid; do readlink /proc/self/ns/$n; done"], env: env, cwd: dir)
                #expect(r.status == 0, "\(service): \(r)")
                return r.stdout
            }
            let db = namespaces("db")
            #expect(splitLines(db).count == 3, "\(db)")
            #expect(namespaces("side") == db)
            let first = ComposeTests.ps(f, dir, env: env)
            // db made again (its environment changed): side joins the new one.
            env["V"] = "2"
            let again = f.run(["compose", "up", "-d"], env: env, cwd: dir)
            #expect(again.status == 0, "\(again)")
            let second = ComposeTests.ps(f, dir, env: env)
            #expect(second["join-db-1"]?.id != first["join-db-1"]?.id && second["join-side-1"]?.id != first["join-side-1"]?.id,
                    "\(first) \(second)")
            let db2 = namespaces("db")
            #expect(db2 != db && namespaces("side") == db2, "\(db) \(db2)")
            // Nothing changed: nothing is made again.
            #expect(f.run(["compose", "up", "-d"], env: env, cwd: dir).status == 0)
            #expect(ComposeTests.ps(f, dir, env: env)["join-side-1"]?.id == second["join-side-1"]?.id)
            let kube = f.run(["compose", "convert", "--format", "kube"], env: env, cwd: dir)
            #expect(kube.status == 0 && kube.stderr.contains("service 'side': shares the namespaces of db here"), "\(kube)")
            #expect(f.run(["compose", "down", "-t", "1"], env: env, cwd: dir).status == 0)
            #expect(f.containerIds().isEmpty, "\(f.containerIds())")
            // A service that names no other service: one line with the key's path, nothing made.
            let bad = try f.writeFile("bad/compose.yaml", "services:\n  a:\n    image: ${IMG}\n    network_mode: service:ghost\n")
            let r = f.run(["compose", "up", "-d"], env: env, cwd: String(bad.dropLast("/compose.yaml".count)))
            #expect(r.status != 0 && r.stderr.contains("ghost") && r.stderr.split(separator: "\n").count == 1, "\(r)")
            #expect(f.containerIds().isEmpty)
        }
    }

    @Test("build: up builds a missing image (context, dockerfile, args, target), up again reuses it, up --build rebuilds and recreates")
    func buildSection() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let file = try f.writeFile("built/compose.yaml", """
                services:
                  web:
                    build:
                      context: ./app
                      dockerfile: web.Dockerfile
                      args: {BASE: "${IMG}", GREETING: hello}
                      target: final
                      network: none
                    init: true
                    ports: ["8085:80"]
                    healthcheck: {test: wget -qO- http://127.0.0.1/, interval: 100ms, retries: 100}

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            _ = try f.writeFile("built/app/web.Dockerfile", """
                ARG BASE
                FROM ${BASE} AS base
                ARG GREETING=hi
                COPY page.txt /page.txt
                RUN mkdir -p /www && echo "$GREETING, $(cat /page.txt)" > /www/index.html
                FROM base AS final
                CMD ["httpd", "-f", "-p", "80", "-h", "/www"]
                FROM base AS unused
                RUN exit 1

                """)
            _ = try f.writeFile("built/app/page.txt", "version one\n")
            let env = ["IMG": img]
            let up = f.run(["compose", "up", "-d", "--wait"], env: env, cwd: dir, timeout: 120)
            #expect(up.status == 0 && up.stdoutLines.contains("Image built-web  Built")
                    && up.stdoutLines.contains("Successfully tagged built-web:latest"), "\(up)")
            let page = n.httpGet("http://127.0.0.1:8085/")
            #expect(page.stdout == "hello, version one\n", "\(page)")
            let first = ComposeTests.ps(f, dir, env: env)["built-web-1"]?.id
            // The image exists: the second up neither builds nor changes anything.
            let again = f.run(["compose", "up", "-d"], env: env, cwd: dir)
            #expect(again.status == 0 && !again.stdout.contains("Building") && !again.stdout.contains("Created"), "\(again)")
            // compose build rebuilds from the cache.
            let rebuild = f.run(["compose", "build"], env: env, cwd: dir, timeout: 120)
            #expect(rebuild.status == 0 && rebuild.stdout.contains("Using cache"), "\(rebuild)")
            // A changed context: up --build makes a new image, so the container is recreated.
            _ = try f.writeFile("built/app/page.txt", "version two\n")
            let upBuild = f.run(["compose", "up", "-d", "--build", "--wait"], env: env, cwd: dir, timeout: 120)
            #expect(upBuild.status == 0 && upBuild.stdoutLines.contains("Container built-web-1  Recreated"), "\(upBuild)")
            #expect(ComposeTests.ps(f, dir, env: env)["built-web-1"]?.id != first, "not recreated")
            #expect(n.httpGet("http://127.0.0.1:8085/").stdout == "hello, version two\n")
            // A build that fails names the service.
            _ = try f.writeFile("built/bad.yaml", "services: {bad: {build: {context: ./app, dockerfile: web.Dockerfile, target: unused, args: {BASE: \"${IMG}\"}}}}\n")
            let bad = f.run(["compose", "-f", "bad.yaml", "-p", "bad", "up", "-d"], env: env, cwd: dir, timeout: 120)
            #expect(bad.status == 1 && bad.stderrLines.last?.hasPrefix("services.bad.build: ") == true, "\(bad)")
            #expect(f.run(["compose", "down", "-v"], env: env, cwd: dir).status == 0)
            #expect(f.containerIds().isEmpty, "\(f.containerIds())")
        }
    }

    @Test("unsupported or wrong keys fail with their path, one line, and nothing is made")
    func unsupportedKeys() throws {
        try BockerFixture.with { f in
            let cases: [(String, String)] = [
                ("services: {web: {image: x, develop: {watch: []}}}", "services.web.develop: not supported"),
                ("services: {web: {build: {context: ., cache_from: [x]}}}", "services.web.build.cache_from: not supported"),
                ("services: {web: {command: x}}", "services.web: needs image (or build)"),
                ("services: {web: {image: x, extra_hosts: ['nonsense']}}",
                 "services.web.extra_hosts[0]: 'nonsense': use HOST:IP (or HOST=IP, HOST:host-gateway)"),
                ("services: {web: {image: x, deploy: {resources: {reservations: {cpus: '0.5'}}}}}",
                 "services.web.deploy.resources.reservations: not supported"),
                ("services: {web: {image: x, ulimits: {nofile: {soft: 1, hardd: 2}}}}", "services.web.ulimits.nofile.hardd: not supported"),
                ("services: {web: {image: x, networks: [a, b]}}\nnetworks: {a: {}, b: {}}",
                 "services.web.networks: a bocker container joins one network (got a, b)"),
                ("services: {web: {image: x, ports: [80]}}",
                 "services.web.ports[0]: '80' publishes on a random host port, which bocker does not support: give HOST:CONTAINER"),
                ("services: {web: {image: x, volumes: ['nope:/x']}}",
                 "services.web.volumes[0]: volume 'nope' is not declared in the top-level volumes"),
                ("services: {web: {image: x, depends_on: [db]}}", "services.web.depends_on: service 'db' is not defined"),
                ("services: {web: {image: x, healthcheck: {test: [CMD, 'true'], intervall: 1s}}}",
                 "services.web.healthcheck.intervall: not supported"),
                ("include: [other.yaml]\nservices: {}", "include: not supported"),
                ("services:\n  web:\n    image: \"${NEED:?set NEED first}\"\n",
                 "COMPOSE: services.web.image: required variable NEED is missing a value: set NEED first"),
                ("services:\n  web:\n    image: [x\n",
                 "COMPOSE: yaml: line 5, column 1: did not find expected ',' or ']' (while parsing a flow sequence at line 3, column 12)"),
                ("services:\n  web:\n    image: x\n    image: y\n", "COMPOSE: yaml: line 4, column 5: mapping key \"image\" already defined at line 3"),
                ("services: {web: {image: x, command: \"echo $\"}}",
                 "COMPOSE: services.web.command: invalid interpolation format for 'echo $': a '$' must be followed by a name, '{' or '$' (write $$ for a $)"),
            ]
            for (text, message) in cases {
                let file = try f.writeFile("bad/compose.yaml", text + "\n")
                let r = f.run(["compose", "-f", file, "up", "-d"])
                #expect(r.status == 1, "\(text): \(r)")
                #expect(r.stdout.isEmpty && r.stderrLines == [message.replacing("COMPOSE", with: file)], "\(text): \(r)")
            }
            #expect(f.containerIds().isEmpty)
            #expect(f.run(["volume", "ls"]).stdoutLines.count == 1)
            #expect(!Host.exists(f.root + "/projects"), "a failed compose left a state folder")
        }
    }

    @Test("-f files merge as compose merges them; .env, --env-file and the environment interpolate; config prints the result")
    func mergeAndInterpolate() throws {
        try BockerFixture.with { f in
            let base = try f.writeFile("m/compose.yaml", """
                services:
                  web:
                    image: busybox
                    command: ["httpd", "-f"]
                    environment: [A=1, B=2]
                    ports: ["8080:80"]
                    volumes: ["./site:/www:ro"]
                    labels: {tier: front}
                  db:
                    image: "${DB_IMAGE-db:1}"
                    command: echo "$${HOME}" '${USER_NAME:-nobody}'

                """)
            _ = try f.writeFile("m/override.yaml", """
                services:
                  web:
                    command: ["httpd", "-f", "-p", "81"]
                    environment: {B: "3", C: "${EXTRA:+on}"}
                    ports: ["8443:443"]
                    volumes: ["./other:/www"]

                """)
            let dir = String(base.dropLast("/compose.yaml".count))
            _ = try f.writeFile("m/vars.env", "export USER_NAME='from file'\nEXTRA=yes\n")
            let r = f.run(["compose", "-f", "compose.yaml", "-f", "override.yaml", "--env-file", "vars.env", "config", "--format", "json"],
                          env: ["DB_IMAGE": ""], cwd: dir)
            #expect(r.status == 0, "\(r)")
            guard let cfg = parseJSON(r.stdout) else { Issue.record("not JSON: \(r)"); return }
            #expect(lcString(cfg, "name") == "m", "\(r)")
            #expect((lcJSON(cfg, "services", "web", "command") as? [String]) == ["httpd", "-f", "-p", "81"], "\(r)")
            #expect(lcString(cfg, "services", "web", "environment", "A") == "1" && lcString(cfg, "services", "web", "environment", "B") == "3"
                    && lcString(cfg, "services", "web", "environment", "C") == "on", "\(r)")
            #expect((lcJSON(cfg, "services", "web", "ports") as? [String]) == ["8080:80", "8443:443"], "\(r)")
            #expect((lcJSON(cfg, "services", "web", "volumes") as? [String]) == ["./other:/www"], "\(r)")
            #expect(lcString(cfg, "services", "web", "labels", "tier") == "front", "\(r)")
            // ${VAR-default} keeps an empty value; ${VAR:-default} does not; $$ is a literal $.
            #expect(lcString(cfg, "services", "db", "image") == "", "\(r)")
            #expect(lcString(cfg, "services", "db", "command") == "echo \"${HOME}\" 'from file'", "\(r)")
            // Discovery: compose.yaml in the current folder, -p over the folder's name.
            let q = f.run(["compose", "-p", "other-name", "config", "--format", "json"], cwd: dir)
            #expect(q.status == 0 && lcString(parseJSON(q.stdout), "name") == "other-name", "\(q)")
            let none = f.run(["compose", "config"], cwd: f.tmp)
            #expect(none.status == 1 && none.stderr.contains("no compose file in"), "\(none)")
        }
    }
}

/// Three compose files in the style of well-known public samples (a web app with a database and
/// a cache; a queue with workers; a reverse proxy in front of two apps), adapted to the busybox
/// image: each goes through the same lifecycle checks and its kube export validates.
@Suite("compose: sample-style files")
struct ComposeSampleTests {
    static let cgiHeader = "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n"

    @Test("web app + database + cache: health-gated start, a secret, a bind-mounted CGI, a named volume")
    func webDatabaseCache() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let file = try f.writeFile("webapp/compose.yaml", """
                services:
                  db:
                    image: ${IMG}
                    init: true
                    command: sh -c 'echo "rows=42" > /var/lib/db/rows && exec httpd -f -p 5432 -h /var/lib/db'
                    environment:
                      POSTGRES_PASSWORD_FILE: /run/secrets/db_password
                    secrets: [db_password]
                    volumes: [dbdata:/var/lib/db]
                    healthcheck: {test: ["CMD-SHELL", "wget -qO- http://127.0.0.1:5432/rows"], interval: 100ms, retries: 100}
                  cache:
                    image: ${IMG}
                    init: true
                    command: sh -c 'mkdir -p /c && echo hits=1 > /c/hits && exec httpd -f -p 6379 -h /c'
                    healthcheck: {test: wget -qO- http://127.0.0.1:6379/hits, interval: 100ms, retries: 100}
                  web:
                    image: ${IMG}
                    init: true
                    command: httpd -f -p 8000 -h /www
                    volumes: ["./cgi:/www/cgi-bin:ro"]
                    ports: ["8000:8000"]
                    depends_on:
                      db: {condition: service_healthy}
                      cache: {condition: service_healthy}
                    healthcheck: {test: wget -qO- http://127.0.0.1:8000/cgi-bin/index, interval: 100ms, retries: 100}
                secrets:
                  db_password: {file: ./db_password.txt}
                volumes:
                  dbdata: {}

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            _ = try f.writeFile("webapp/db_password.txt", "s3cret\n")
            let cgi = try f.writeFile("webapp/cgi/index", Self.cgiHeader + """
                echo "db $(wget -qO- http://db:5432/rows) cache $(wget -qO- http://cache:6379/hits)"

                """)
            runTool(["chmod", "755", cgi])
            try ComposeTests.lifecycle(n, f, dir: dir, project: "webapp", expected: ["webapp-db-1", "webapp-cache-1", "webapp-web-1"],
                                       env: ["IMG": img], upArgs: ["-d", "--wait"],
                                       serves: [("http://127.0.0.1:8000/cgi-bin/index", "db rows=42 cache hits=1\n")]) {
                let secret = f.run(["compose", "exec", "db", "cat", "/run/secrets/db_password"], env: ["IMG": img], cwd: dir)
                #expect(secret.status == 0 && secret.stdout == "s3cret\n", "\(secret)")
                // Mounted read-only.
                let write = f.run(["compose", "exec", "db", "sh", "-c", "echo x > /run/secrets/db_password"], env: ["IMG": img], cwd: dir)
                #expect(write.status != 0, "the secret is writable: \(write)")
            }
        }
    }

    @Test("a queue: a producer job, two worker replicas draining it, a status page behind their health")
    func workerQueue() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let file = try f.writeFile("queue/compose.yaml", """
                services:
                  producer:
                    image: ${IMG}
                    command: sh -c 'mkdir -p /q/todo /q/done && for i in 1 2 3 4 5 6; do echo "job $$i" > /q/todo/job-$$i; done'
                    volumes: [jobs:/q]
                  worker:
                    image: ${IMG}
                    init: true
                    deploy: {replicas: 2}
                    command:
                      - sh
                      - -c
                      - while true; do for f in /q/todo/*; do [ -e "$$f" ] && mv "$$f" /q/done/ 2>/dev/null && echo "took $${f##*/}"; done; sleep 0.1; done
                    volumes: [jobs:/q]
                    depends_on: {producer: {condition: service_completed_successfully}}
                    healthcheck: {test: ["CMD-SHELL", "[ -z \\"$$(ls /q/todo)\\" ]"], interval: 100ms, retries: 200}
                  status:
                    image: ${IMG}
                    init: true
                    command: httpd -f -p 80 -h /q/done
                    volumes: ["jobs:/q:ro"]
                    ports: ["8090:80"]
                    depends_on: {worker: {condition: service_healthy}}
                    healthcheck: {test: wget -qO- http://127.0.0.1/job-1, interval: 100ms, retries: 100}
                volumes:
                  jobs:

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            try ComposeTests.lifecycle(n, f, dir: dir, project: "queue", expected: ["queue-worker-1", "queue-worker-2", "queue-status-1"],
                                       env: ["IMG": img], upArgs: ["-d", "--wait"], serves: [("http://127.0.0.1:8090/job-6", "job 6\n")]) {
                let logs = f.run(["compose", "logs", "worker"], env: ["IMG": img], cwd: dir)
                let took = logs.stdoutLines.filter { $0.contains("| took job-") }
                #expect(took.count == 6, "six jobs, each taken once: \(logs)")
                let ls = f.run(["compose", "exec", "status", "ls", "/q/done"], env: ["IMG": img], cwd: dir)
                #expect(ls.stdoutLines == (1...6).map { "job-\($0)" }, "\(ls)")
            }
        }
    }

    @Test("a reverse proxy in front of two apps on a project network, one reached by an alias")
    func reverseProxy() throws {
        try NetworkFixture.with { n, f in
            let img = try f.initImage()
            let file = try f.writeFile("proxy/compose.yaml", """
                x-app: &app
                  image: ${IMG}
                  init: true
                  healthcheck: {test: wget -qO- http://127.0.0.1:8080/, interval: 100ms, retries: 100}
                services:
                  app1:
                    <<: *app
                    command: sh -c 'mkdir -p /www && echo "app one" > /www/index.html && exec httpd -f -p 8080 -h /www'
                    networks: [backend]
                  app2:
                    <<: *app
                    command: sh -c 'mkdir -p /www && echo "app two" > /www/index.html && exec httpd -f -p 8080 -h /www'
                    networks:
                      backend:
                        aliases: [second]
                  proxy:
                    image: ${IMG}
                    init: true
                    command: httpd -f -p 80 -h /srv
                    volumes:
                      - type: bind
                        source: ./routes
                        target: /srv/cgi-bin
                        read_only: true
                    ports: ["127.0.0.1:8088:80"]
                    networks: [backend]
                    healthcheck: {test: wget -qO- http://127.0.0.1/cgi-bin/route/one, interval: 100ms, retries: 100}
                    depends_on:
                      app1: {condition: service_healthy}
                      app2: {condition: service_healthy}
                networks:
                  backend:
                    ipam:
                      config: [{subnet: 10.89.30.0/24}]

                """)
            let dir = String(file.dropLast("/compose.yaml".count))
            let route = try f.writeFile("proxy/routes/route", Self.cgiHeader + """
                case "$PATH_INFO" in
                  /one) wget -qO- http://app1:8080/ ;;
                  /two) wget -qO- http://second:8080/ ;;
                  *) echo "no route for $PATH_INFO" ;;
                esac

                """)
            runTool(["chmod", "755", route])
            try ComposeTests.lifecycle(n, f, dir: dir, project: "proxy", expected: ["proxy-app1-1", "proxy-app2-1", "proxy-proxy-1"],
                                       env: ["IMG": img], upArgs: ["-d", "--wait"],
                                       serves: [("http://127.0.0.1:8088/cgi-bin/route/one", "app one\n"),
                                                ("http://127.0.0.1:8088/cgi-bin/route/two", "app two\n"),
                                                ("http://127.0.0.1:8088/cgi-bin/route/three", "no route for /three\n")]) {
                let net = f.run(["network", "ls"])
                #expect(net.stdout.contains("proxy_backend") && net.stdout.contains("10.89.30.0/24"), "\(net)")
            }
        }
    }

    @Test("the Kubernetes YAML of every shipped example validates: export kube of the project scripts (also with --registry and --bind-mounts pvc), the kube stage of pipeline.lua")
    func examplesExportValidKube() throws {
        try NetworkFixture.with { _, f in
            let dir = BockerFixture.packageRoot + "/scripts/examples"
            let examples = Host.listDirectory(dir).filter { $0.hasSuffix(".lua") }.sorted()
            #expect(examples.count >= 3, "\(examples)")
            var img: String?
            for e in examples {
                let text = Host.readFile(dir + "/" + e) ?? ""
                if text.contains("p:main(arg)") {
                    for extra in [[], ["--registry", "registry.example.com/team", "--bind-mounts", "pvc"]] {
                        let r = f.run(["script", dir + "/" + e, "export", "kube"] + extra, env: ["BOCKER_EXAMPLE_IMAGE": "img_0123456789ab"])
                        #expect(r.status == 0, "\(e): \(r)")
                        let problems = try KubeValidator.problems(r.stdout, label: e)
                        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
                    }
                } else {
                    // A whole pipeline (build, test, deploy, down) that prints its project's YAML last.
                    if img == nil { img = try f.initImage() }
                    let r = f.run(["script", dir + "/" + e, img!], timeout: 300)
                    #expect(r.status == 0, "\(e): \(r)")
                    guard let at = r.stdout.range(of: "==> kubernetes\n") else {
                        Issue.record("\(e) printed no Kubernetes YAML: \(r)")
                        continue
                    }
                    let problems = try KubeValidator.problems(String(r.stdout[at.upperBound...]), label: e)
                    #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
                }
            }
        }
    }
}
