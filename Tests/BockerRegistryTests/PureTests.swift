import Foundation
import Glibc
import Testing
import BockerCore
@testable import BockerRegistry

@Suite("Image references")
struct ReferenceTests {
    @Test("normalisation", arguments: [
        ("alpine", "docker.io", "library/alpine", "latest", nil, "alpine:latest"),
        ("alpine:3.20", "docker.io", "library/alpine", "3.20", nil, "alpine:3.20"),
        ("user/app:v1", "docker.io", "user/app", "v1", nil, "user/app:v1"),
        ("docker.io/library/alpine", "docker.io", "library/alpine", "latest", nil, "alpine:latest"),
        ("index.docker.io/library/busybox:1", "docker.io", "library/busybox", "1", nil, "busybox:1"),
        ("docker.io/a/b/c", "docker.io", "a/b/c", "latest", nil, "a/b/c:latest"),
        ("127.0.0.1:5000/x:y", "127.0.0.1:5000", "x", "y", nil, "127.0.0.1:5000/x:y"),
        ("localhost/foo", "localhost", "foo", "latest", nil, "localhost/foo:latest"),
        ("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", nil, "localhost:5000/a/b:t"),
        ("ghcr.io/owner/repo:1.2.3-rc_1", "ghcr.io", "owner/repo", "1.2.3-rc_1", nil, "ghcr.io/owner/repo:1.2.3-rc_1"),
        ("Registry/foo", "Registry", "foo", "latest", nil, "Registry/foo:latest"),
        ("[::1]:5000/img", "[::1]:5000", "img", "latest", nil, "[::1]:5000/img:latest"),
        ("a__b/c.d-e---f", "docker.io", "a__b/c.d-e---f", "latest", nil, "a__b/c.d-e---f:latest"),
        ("alpine@sha256:" + String(repeating: "a", count: 64), "docker.io", "library/alpine", nil,
         "sha256:" + String(repeating: "a", count: 64), "alpine@sha256:" + String(repeating: "a", count: 64)),
        ("alpine:3@sha256:" + String(repeating: "b", count: 64), "docker.io", "library/alpine", "3",
         "sha256:" + String(repeating: "b", count: 64), "alpine:3@sha256:" + String(repeating: "b", count: 64)),
    ] as [(String, String, String, String?, String?, String)])
    func good(_ input: String, _ registry: String, _ repo: String, _ tag: String?, _ digest: String?, _ familiar: String) throws {
        let r = try ImageReference.parse(input)
        #expect(r.registry == registry)
        #expect(r.repository == repo)
        #expect(r.tag == tag)
        #expect(r.digest == digest)
        #expect(r.familiar == familiar)
    }

    @Test("bad inputs are refused with one line naming the input", arguments: [
        "", "Alpine", "library/Alpine:1", "../x", "a/../b", "alpine:", "alpine:-tag", "alpine:t@g",
        "alpine@sha256:abc", "alpine@sha256:" + String(repeating: "A", count: 64), "alpine@md5:abcd",
        "alpine@", "a//b", "-a", "a-", "a..b", "a/b_", "host:port/x", "localhost:/x", "x:" + String(repeating: "t", count: 129),
        "example.com/" + String(repeating: "a", count: 250), String(repeating: "f", count: 64),
        "foo bar", "foo/.bar", "ex_ample.com/x",
    ])
    func bad(_ input: String) {
        do {
            let r = try ImageReference.parse(input)
            Issue.record("'\(input)' parsed as \(r)")
        } catch let e as BockerError {
            #expect(e.code == .invalidArgument)
            #expect(e.message.hasPrefix("invalid reference format '\(input)'"), "\(e.message)")
            #expect(!e.message.contains("\n"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func nameAndTag() throws {
        let r = try ImageReference(name: "alpine", tag: "3.20")
        #expect(r.description == "docker.io/library/alpine:3.20")
        #expect(r.familiar == "alpine:3.20")
        #expect(r.apiHost == "registry-1.docker.io")
        let d = try ImageReference(name: "127.0.0.1:5000/x", tag: "sha256:" + String(repeating: "c", count: 64))
        #expect(d.digest != nil && d.tag == nil)
        #expect(d.apiHost == "127.0.0.1:5000")
        #expect(throws: BockerError.self) { try ImageReference(name: "alpine:3", tag: "3") }
        #expect(throws: BockerError.self) { try ImageReference(name: "alpine", tag: "") }
        #expect(throws: BockerError.self) { try ImageReference(name: "alpine", tag: "a b") }
    }
}

@Suite("Platforms")
struct PlatformTests {
    @Test func parsing() throws {
        #expect(try Platform.parse("linux/arm64/v8") == Platform(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(try Platform.parse("linux/arm64") == Platform(os: "linux", architecture: "arm64", variant: "v8"))
        #expect(try Platform.parse("linux/aarch64").description == "linux/arm64/v8")
        #expect(try Platform.parse("linux/x86_64").description == "linux/amd64")
        #expect(try Platform.parse("linux/arm").description == "linux/arm/v7")
        #expect(try Platform.parse("arm64").description == "linux/arm64/v8")
        #expect(try Platform.parse("linux") == Platform.host)
        for bad in ["", "linux/", "/amd64", "a/b/c/d", "linux/amd 64"] {
            #expect(throws: BockerError.self) { try Platform.parse(bad) }
        }
        #if arch(x86_64)
        #expect(Platform.host.description == "linux/amd64")
        #endif
    }

    func entry(_ os: String, _ arch: String, _ variant: String? = nil, _ digest: Character,
               type: String = MediaType.ociManifest, annotations: [String: String]? = nil) -> Descriptor {
        Descriptor(mediaType: type, digest: "sha256:" + String(repeating: digest, count: 64), size: 1,
                   platform: DescriptorPlatform(architecture: arch, os: os, variant: variant), annotations: annotations)
    }

    @Test func selection() throws {
        let index = [
            entry("linux", "amd64", nil, "0", type: "application/vnd.example.unknown+json"),
            entry("linux", "amd64", nil, "1", annotations: ["vnd.docker.reference.type": "attestation-manifest"]),
            entry("unknown", "unknown", nil, "2"),
            entry("linux", "amd64", nil, "3"),
            entry("linux", "amd64", nil, "4"),
            entry("linux", "arm", "v6", "5"),
            entry("linux", "arm64", nil, "6"),
            entry("linux", "arm", "v7", "7"),
            entry("windows", "amd64", nil, "8", type: MediaType.dockerManifest),
        ]
        func pick(_ p: String) throws -> Character? {
            selectManifest(from: index, for: try Platform.parse(p))?.digest.last
        }
        #expect(try pick("linux/amd64") == "3")           // unknown type and attestation skipped; first wins
        #expect(try pick("linux/arm64/v8") == "6")        // no variant in the entry = v8
        #expect(try pick("linux/arm64") == "6")
        #expect(try pick("linux/arm/v7") == "7")          // exact variant beats the older one
        #expect(try pick("linux/arm/v6") == "5")
        #expect(try pick("linux/arm/v5") == nil)
        #expect(try pick("linux/s390x") == nil)
        #expect(try pick("windows/amd64") == "8")
        let onlyV6 = [entry("linux", "arm", "v6", "9")]
        #expect(selectManifest(from: onlyV6, for: try Platform.parse("linux/arm/v7"))?.digest.last == "9")
        let v8Explicit = [entry("linux", "arm64", "v8", "a")]
        #expect(selectManifest(from: v8Explicit, for: try Platform.parse("linux/arm64"))?.digest.last == "a")
    }
}

@Suite("WWW-Authenticate")
struct ChallengeTests {
    @Test func bearer() {
        let c = AuthChallenge.parse(#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push""#)
        #expect(c == [AuthChallenge(scheme: "bearer", parameters: [
            "realm": "https://auth.docker.io/token", "service": "registry.docker.io",
            "scope": "repository:library/alpine:pull,push"])])
    }

    @Test func basicAndOddShapes() {
        #expect(AuthChallenge.parse(#"Basic realm="bocker-test""#) == [AuthChallenge(scheme: "basic", parameters: ["realm": "bocker-test"])])
        let c = AuthChallenge.parse(#"BEARER Realm=http://x/t , error="insufficient_scope", scope="a:b:pull""#)
        #expect(c.count == 1)
        #expect(c[0].scheme == "bearer")
        #expect(c[0].parameters["realm"] == "http://x/t")
        #expect(c[0].parameters["error"] == "insufficient_scope")
        let two = AuthChallenge.parse(#"Basic realm="a\"b", Bearer realm="https://t/token",service=s"#)
        #expect(two.map(\.scheme) == ["basic", "bearer"])
        #expect(two[0].parameters["realm"] == #"a"b"#)
        #expect(two[1].parameters["service"] == "s")
        #expect(AuthChallenge.parse("") == [])
        #expect(AuthChallenge.parse("Negotiate").first?.scheme == "negotiate")
    }
}

@Suite("Credentials")
struct CredentialTests {
    func tempDir() -> String {
        var t = Array("/tmp/bocker-credtest-XXXXXX".utf8CString)
        _ = t.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        return String(cString: t)
    }

    @Test func dockerConfigAndBockerAuthFile() throws {
        let d = tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let docker = """
        {"auths": {"https://index.docker.io/v1/": {"auth": "\(Data("hubuser:hub:pass".utf8).base64EncodedString())"},
                   "ghcr.io": {"auth": "\(Data("gh:tok".utf8).base64EncodedString())"},
                   "http://127.0.0.1:5000/v2/": {"username": "u", "password": "p"},
                   "broken.example": {"auth": "!!!notbase64"}},
         "credsStore": "desktop", "currentContext": "x"}
        """
        try docker.write(toFile: d + "/config.json", atomically: true, encoding: .utf8)
        let store = CredentialStore(bockerAuthFile: d + "/bocker/auth.json", dockerConfigFile: d + "/config.json")
        #expect(try store.lookup(registry: "docker.io") == Credentials(username: "hubuser", password: "hub:pass"))
        #expect(try store.lookup(registry: "ghcr.io") == Credentials(username: "gh", password: "tok"))
        #expect(try store.lookup(registry: "127.0.0.1:5000") == Credentials(username: "u", password: "p"))
        // No `auths` entry: Docker asks its credsStore, which is not installed here.
        #expect(throws: BockerError.self) { try store.lookup(registry: "quay.io") }
        #expect(throws: BockerError.self) { try store.lookup(registry: "broken.example") }

        // bocker login's own file wins over Docker's, and is private.
        try store.save(Credentials(username: "mine", password: "secret"), registry: "docker.io")
        #expect(try store.lookup(registry: "docker.io") == Credentials(username: "mine", password: "secret"))
        var st = stat()
        #expect(stat(d + "/bocker/auth.json", &st) == 0)
        #expect(st.st_mode & 0o777 == 0o600)
        let text = try String(contentsOfFile: d + "/bocker/auth.json", encoding: .utf8)
        #expect(text.contains("\"docker.io\""))
        #expect(try store.remove(registry: "https://index.docker.io/v1/"))
        #expect(try store.remove(registry: "docker.io") == false)
        #expect(try store.lookup(registry: "docker.io") == Credentials(username: "hubuser", password: "hub:pass"))

        try "not json".write(toFile: d + "/bad.json", atomically: true, encoding: .utf8)
        let bad = CredentialStore(bockerAuthFile: d + "/bad.json", dockerConfigFile: d + "/none.json")
        #expect(throws: BockerError.self) { try bad.lookup(registry: "docker.io") }

        // Without a credsStore, a host with no entry has no credentials.
        try #"{"auths": {"ghcr.io": {"auth": "\#(Data("gh:tok".utf8).base64EncodedString())"}}}"#.write(toFile: d + "/plain.json", atomically: true, encoding: .utf8)
        let plain = CredentialStore(bockerAuthFile: d + "/none2.json", dockerConfigFile: d + "/plain.json")
        #expect(try plain.lookup(registry: "quay.io") == nil)
        #expect(try plain.lookup(registry: "ghcr.io") == Credentials(username: "gh", password: "tok"))
    }

    @Test func keyNormalisation() {
        #expect(CredentialStore.normalizeKey("https://index.docker.io/v1/") == "docker.io")
        #expect(CredentialStore.normalizeKey("registry-1.docker.io") == "docker.io")
        #expect(CredentialStore.normalizeKey("http://LOCALHOST:5000/v2/") == "localhost:5000")
        #expect(CredentialStore.normalizeKey("ghcr.io") == "ghcr.io")
    }
}

@Suite("HTTP helpers")
struct HTTPHelperTests {
    @Test func origins() {
        #expect(urlOrigin("http://127.0.0.1:5000/v2/x") == "http://127.0.0.1:5000")
        #expect(urlOrigin("https://Registry-1.docker.io/v2/") == "https://registry-1.docker.io:443")
        #expect(urlOrigin("https://registry-1.docker.io:443/x") == urlOrigin("https://registry-1.docker.io/y"))
        #expect(urlOrigin("http://localhost:5000/a") != urlOrigin("http://127.0.0.1:5000/a"))
        #expect(urlOrigin("http://h:1/a") != urlOrigin("http://h:2/a"))
        #expect(urlOrigin("http://h/a") != urlOrigin("https://h/a"))
        #expect(urlOrigin("http://user@evil.com@h:1/a") == "http://h:1")
        #expect(urlOrigin("http://[::1]:5000/v2/") == "http://[::1]:5000")
        #expect(urlOrigin("ftp://h/x") == nil)
        #expect(percentEncode("repository:library/alpine:pull") == "repository%3Alibrary%2Falpine%3Apull")
        #expect(RegistryClient.contentRangeStart("bytes 100-199/200") == 100)
        #expect(RegistryClient.contentRangeStart("bytes */200") == nil)
    }

    @Test func insecureDefaults() {
        #expect(RegistryClient.isInsecureByDefault("127.0.0.1:5000"))
        #expect(RegistryClient.isInsecureByDefault("localhost"))
        #expect(RegistryClient.isInsecureByDefault("[::1]:5000"))
        #expect(!RegistryClient.isInsecureByDefault("docker.io"))
        #expect(!RegistryClient.isInsecureByDefault("127.example.com"))
        #expect(RegistryClient(try! ImageReference.parse("alpine")).scheme == "https")
        #expect(RegistryClient(try! ImageReference.parse("127.0.0.1:1/x")).scheme == "http")
        #expect(RegistryClient(try! ImageReference.parse("127.0.0.1:1/x"), insecure: false).scheme == "https")
    }

    @Test func registryErrors() {
        let body = Array(#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#.utf8)
        #expect(RegistryClient.registryError(body).code == "MANIFEST_UNKNOWN")
        #expect(RegistryClient.registryError(Array("<html>".utf8)).code == nil)
    }
}
