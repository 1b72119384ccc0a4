import Glibc
import Testing

/// `login` checks credentials against the registry before saving them, `logout` removes them,
/// and Docker's credential helpers (`credHelpers`, `credsStore` in config.json) are asked.
@Suite("registry credentials")
struct CredentialsTests {
    @Test("login refuses wrong credentials and saves nothing; right ones work; logout removes them", arguments: ["basic", "token"])
    func loginVerifiesAndLogout(auth: String) throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f, auth: auth) { reg in
                try reg.push("p/private:1", ["--layer", busyboxLayer])
                let home = f.tmp + "/home"
                let env = ["HOME": home, "BOCKER_CONFIG": home + "/.config/bocker", "DOCKER_CONFIG": home + "/.docker"]
                let authFile = home + "/.config/bocker/auth.json"
                let wrong = f.run(["login", reg.host, "-u", "testuser", "-p", "nottheone"], env: env, timeout: 60)
                #expect(wrong.status != 0, "\(wrong)")
                #expect(wrong.stderrLines == ["unauthorized: incorrect username or password for \(reg.host)"], "\(wrong)")
                #expect(!wrong.stdout.contains("Login Succeeded"), "\(wrong)")
                #expect(access(authFile, F_OK) != 0, "a refused login saved credentials")

                let ok = f.run(["login", reg.host, "-u", "testuser", "--password-stdin"], env: env, stdin: "testpass\n", timeout: 60)
                #expect(ok.status == 0 && ok.stdout == "Login Succeeded\n", "\(ok)")
                var st = stat()
                #expect(stat(authFile, &st) == 0 && st.st_mode & 0o777 == 0o600)
                let pulled = f.run(["pull", "\(reg.host)/p/private:1"], env: env, timeout: 120)
                #expect(pulled.status == 0, "\(pulled)")
                #expect(f.run(["tag", "\(reg.host)/p/private:1", "\(reg.host)/p/copy:1"]).status == 0)
                #expect(f.run(["tag", "\(reg.host)/p/private:1", "\(reg.host)/p/copy:2"]).status == 0)
                let pushed = f.run(["push", "\(reg.host)/p/copy:1"], env: env, timeout: 120)
                #expect(pushed.status == 0, "\(pushed)")

                let out = f.run(["logout", reg.host], env: env)
                #expect(out.status == 0 && out.stdout == "Removing login credentials for \(reg.host)\n", "\(out)")
                // Both registries want credentials to push (the token server gives anonymous pulls).
                let denied = f.run(["push", "\(reg.host)/p/copy:2"], env: env, timeout: 60)
                #expect(denied.status != 0 && denied.stderr.contains("unauthorized"), "\(denied)")
                let again = f.run(["logout", reg.host], env: env)
                #expect(again.status == 0 && again.stdout == "Not logged in to \(reg.host)\n", "\(again)")
            }
        }
    }

    /// A `docker-credential-NAME` program speaking the helper protocol: answers for `host`,
    /// "credentials not found" for anything else, and records each server it was asked for.
    func writeHelper(_ f: BockerFixture, name: String, host: String, fail: Bool = false) throws -> String {
        let bin = f.tmp + "/helper-bin"
        mkdir(bin, 0o755)
        let script = fail ? """
            #!/bin/sh
            echo "keychain is locked" >&2
            exit 3
            """ : """
            #!/bin/sh
            [ "$1" = get ] || exit 2
            read -r server
            echo "$server" >> \(f.tmp)/helper-\(name).log
            if [ "$server" = "\(host)" ]; then
              printf '{"ServerURL":"%s","Username":"testuser","Secret":"testpass"}\\n' "$server"
            else
              echo "credentials not found in native keychain"
              exit 1
            fi
            """
        try Host.writeFile(bin + "/docker-credential-" + name, script + "\n")
        chmod(bin + "/docker-credential-" + name, 0o755)
        return bin
    }

    @Test("Docker's credHelpers and credsStore are asked with the helper protocol", arguments: ["credHelpers", "credsStore"])
    func credentialHelpers(kind: String) throws {
        try BockerFixture.with { f in
            // Basic: a pull without credentials is refused, so a pull that works used the helper's.
            try TestRegistry.with(f, auth: "basic") { reg in
                try reg.push("p/private:1", ["--layer", busyboxLayer])
                let bin = try writeHelper(f, name: "bockertest", host: reg.host)
                let docker = f.tmp + "/docker"
                mkdir(docker, 0o700)
                let config = kind == "credHelpers"
                    ? #"{"auths": {}, "credHelpers": {"\#(reg.host)": "bockertest"}}"#
                    : #"{"auths": {"\#(reg.host)": {}}, "credsStore": "bockertest"}"#
                try Host.writeFile(docker + "/config.json", config)
                let path = bin + ":" + (String(validatingCString: getenv("PATH")) ?? "/usr/bin:/bin")
                let env = ["HOME": f.tmp + "/nohome", "BOCKER_CONFIG": f.tmp + "/bockercfg", "DOCKER_CONFIG": docker, "PATH": path]
                let p = f.run(["pull", "\(reg.host)/p/private:1"], env: env, timeout: 120)
                #expect(p.status == 0, "\(p)")
                #expect(Host.readFile(f.tmp + "/helper-bockertest.log")?.split(separator: "\n").contains(Substring(reg.host)) == true)
                let r = f.run(["run", "--rm", "\(reg.host)/p/private:1", "echo", "ran"])
                #expect(r.stdout == "ran\n", "\(r)")
            }
        }
    }

    @Test("a failing credential helper is one line naming it; a missing one too")
    func failingHelper() throws {
        try BockerFixture.with { f in
            try TestRegistry.with(f, auth: "basic") { reg in
                let bin = try writeHelper(f, name: "broken", host: reg.host, fail: true)
                let docker = f.tmp + "/docker"
                mkdir(docker, 0o700)
                let path = bin + ":" + (String(validatingCString: getenv("PATH")) ?? "/usr/bin:/bin")
                let env = ["HOME": f.tmp + "/nohome", "BOCKER_CONFIG": f.tmp + "/bockercfg", "DOCKER_CONFIG": docker, "PATH": path]
                try Host.writeFile(docker + "/config.json", #"{"credsStore": "broken"}"#)
                let p = f.run(["pull", "\(reg.host)/p/any:1"], env: env, timeout: 60)
                #expect(p.status != 0 && p.stderrLines.count == 1, "\(p)")
                #expect(p.stderr.contains("docker-credential-broken") && p.stderr.contains("keychain is locked"), "\(p)")
                try Host.writeFile(docker + "/config.json", #"{"credHelpers": {"\#(reg.host)": "absent"}}"#)
                let q = f.run(["pull", "\(reg.host)/p/any:1"], env: env, timeout: 60)
                #expect(q.status != 0 && q.stderrLines.count == 1 && q.stderr.contains("docker-credential-absent"), "\(q)")
                #expect(Host.listDirectory(f.root + "/images").isEmpty)
            }
        }
    }
}
