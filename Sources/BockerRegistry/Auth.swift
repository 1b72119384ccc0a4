#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BockerCore
import Glibc

/// A registry username and password (or token used as a password).
public struct Credentials: Equatable, Sendable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// "Basic base64(user:pass)".
    var basicHeaderValue: String {
        "Basic " + Data((username + ":" + password).utf8).base64EncodedString()
    }
}

/// Where credentials live:
/// - bocker's own `$BOCKER_CONFIG/auth.json` (default `~/.config/bocker/auth.json`, mode 0600),
///   written by `bocker login`, in Docker's format: `{"auths": {"HOST": {"auth": "base64(u:p)"}}}`;
/// - Docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`), read only: `auths`
///   entries keyed by host, `https://host`, or `https://index.docker.io/v1/` for Docker Hub.
///   When `auths` has no credentials for the host, its credential helpers are asked, as
///   Docker asks them: `credHelpers[host]`, else
///   `credsStore`, run as `docker-credential-NAME get` (found on $PATH) with the server on
///   stdin; "credentials not found" is no credentials, any other failure an error.
/// bocker's own file wins, so `bocker login` overrides a stale Docker entry.
public struct CredentialStore: Sendable {
    public var bockerAuthFile: String
    public var dockerConfigFile: String

    public init(bockerAuthFile: String, dockerConfigFile: String) {
        self.bockerAuthFile = bockerAuthFile
        self.dockerConfigFile = dockerConfigFile
    }

    /// The files named by the environment ($BOCKER_CONFIG, $DOCKER_CONFIG, $HOME).
    public static func fromEnvironment() -> CredentialStore {
        let home = homeDirectory()
        let bocker = env("BOCKER_CONFIG") ?? (home + "/.config/bocker")
        let docker = env("DOCKER_CONFIG") ?? (home + "/.docker")
        return CredentialStore(bockerAuthFile: bocker + "/auth.json", dockerConfigFile: docker + "/config.json")
    }

    /// The credentials for a registry ("docker.io", "127.0.0.1:5000"), or nil.
    public func lookup(registry: String) throws -> Credentials? {
        if let c = try Self.read(file: bockerAuthFile, registry: registry) { return c }
        // Credentials written in Docker's `auths` first, then its helpers.
        if let c = try Self.read(file: dockerConfigFile, registry: registry) { return c }
        guard let root = try Self.readFile(dockerConfigFile) else { return nil }
        let want = Self.normalizeKey(registry)
        let helper = root.credHelpers?.first(where: { Self.normalizeKey($0.key) == want })?.value ?? root.credsStore
        guard let helper, !helper.isEmpty else { return nil }
        return try CredentialHelper(name: helper).get(server: Self.serverURL(registry))
    }

    /// The server name Docker gives credential helpers: Docker Hub's legacy URL, else the host.
    static func serverURL(_ registry: String) -> String {
        normalizeKey(registry) == "docker.io" ? "https://index.docker.io/v1/" : normalizeKey(registry)
    }

    /// Saves credentials for `registry` in bocker's auth.json (0600, written atomically).
    public func save(_ creds: Credentials, registry: String) throws {
        var file = try Self.readFile(bockerAuthFile) ?? AuthFile(auths: [:])
        let key = Self.normalizeKey(registry)
        for k in file.auths.keys where Self.normalizeKey(k) == key { file.auths.removeValue(forKey: k) }
        file.auths[key] = AuthEntry(auth: Data((creds.username + ":" + creds.password).utf8).base64EncodedString())
        try write(file)
    }

    /// Removes `registry`'s entry from bocker's auth.json; false when there was none.
    @discardableResult
    public func remove(registry: String) throws -> Bool {
        guard var file = try Self.readFile(bockerAuthFile) else { return false }
        let key = Self.normalizeKey(registry)
        let matching = file.auths.keys.filter { Self.normalizeKey($0) == key }
        if matching.isEmpty { return false }
        for k in matching { file.auths.removeValue(forKey: k) }
        try write(file)
        return true
    }

    private func write(_ file: AuthFile) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data: Data
        do { data = try enc.encode(file) } catch {
            throw BockerError(.internal, "cannot encode '\(bockerAuthFile)': \(error)")
        }
        try FS.makeDirectories(FS.parent(bockerAuthFile), mode: 0o700)
        try FS.writeAtomically(bockerAuthFile, Array(data) + [0x0a], mode: 0o600)
        chmod(bockerAuthFile, 0o600)
    }

    /// "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/v2/" → "host:5000".
    public static func normalizeKey(_ key: String) -> String {
        var k = Substring(key.lowercased())
        if let r = k.firstIndex(of: ":"), k[r...].hasPrefix("://") { k = k[k.index(r, offsetBy: 3)...] }
        if let slash = k.firstIndex(of: "/") { k = k[..<slash] }
        switch k {
        case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com": return "docker.io"
        default: return String(k)
        }
    }

    struct AuthEntry: Codable {
        var auth: String?
        var username: String?
        var password: String?
        init(auth: String) { self.auth = auth }
    }

    /// Docker's config.json and bocker's auth.json share this shape (other keys are ignored).
    struct AuthFile: Codable {
        var auths: [String: AuthEntry]
        /// Docker's credential helpers (never written to bocker's own file).
        var credsStore: String?
        var credHelpers: [String: String]?
        init(auths: [String: AuthEntry]) { self.auths = auths }
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            auths = try c.decodeIfPresent([String: AuthEntry].self, forKey: .auths) ?? [:]
            credsStore = try c.decodeIfPresent(String.self, forKey: .credsStore)
            credHelpers = try c.decodeIfPresent([String: String].self, forKey: .credHelpers)
        }
        func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(auths, forKey: .auths)
        }
        enum CodingKeys: String, CodingKey { case auths, credsStore, credHelpers }
    }

    static func read(file: String, registry: String) throws -> Credentials? {
        guard let root = try readFile(file) else { return nil }
        let want = normalizeKey(registry)
        // An exact key first, then any key that normalises to the registry.
        guard let e = root.auths[registry] ?? root.auths.first(where: { normalizeKey($0.key) == want })?.value else {
            return nil
        }
        if let user = e.username, let pass = e.password, !user.isEmpty {
            return Credentials(username: user, password: pass)
        }
        guard let auth = e.auth, !auth.isEmpty else { return nil }
        guard let raw = Data(base64Encoded: auth), let s = String(bytes: raw, encoding: .utf8),
              let colon = s.firstIndex(of: ":") else {
            throw BockerError(.invalidArgument, "malformed credentials for '\(registry)' in '\(file)'")
        }
        return Credentials(username: String(s[..<colon]), password: String(s[s.index(after: colon)...]))
    }

    static func readFile(_ file: String) throws -> AuthFile? {
        guard FS.exists(file) else { return nil }
        let bytes = try FS.read(file)
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) { return nil }
        do {
            return try JSONDecoder().decode(AuthFile.self, from: Data(bytes))
        } catch {
            throw BockerError(.invalidArgument, "malformed credentials file '\(file)': \(jsonErrorSummary(error))")
        }
    }
}

/// A Docker credential helper (`docker-credential-NAME`, on $PATH), spoken to with its `get`
/// protocol: the server on stdin, `{"ServerURL", "Username", "Secret"}` on stdout.
struct CredentialHelper {
    var name: String

    var program: String { "docker-credential-" + name }

    func path() throws -> String {
        guard !name.contains("/"), let found = FS.searchPath(program) else {
            throw BockerError(.notFound, "credential helper '\(program)' (named in Docker's config.json) is not on PATH")
        }
        return found
    }

    func get(server: String) throws -> Credentials? {
        let out = try HostTool.capture([try path(), "get"], stdin: server + "\n", limit: 64 << 10)
        if out.status != 0 {
            let said = String(decoding: out.stdout + out.stderr, as: UTF8.self)
                .split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            // The protocol's "no entry" answer (the helpers' shared message).
            if said.lowercased().contains("credentials not found") { return nil }
            throw BockerError(.io, "credential helper '\(program)' failed for '\(server)' (status \(out.status))\(said.isEmpty ? "" : ": " + said)")
        }
        struct Answer: Decodable { var Username: String?; var Secret: String? }
        let a = try decodeJSON(Answer.self, out.stdout, what: "answer of credential helper '\(program)'")
        guard let secret = a.Secret, !secret.isEmpty else { return nil }
        return Credentials(username: a.Username ?? "", password: secret)
    }
}

func env(_ name: String) -> String? {
    guard let p = getenv(name) else { return nil }
    let s = String(cString: p)
    return s.isEmpty ? nil : s
}

func homeDirectory() -> String {
    if let h = env("HOME") { return h }
    if let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { return String(cString: dir) }
    return "/root"
}

/// One challenge from a WWW-Authenticate header.
public struct AuthChallenge: Equatable, Sendable {
    /// Lowercased: "bearer" or "basic".
    public var scheme: String
    /// Parameter names lowercased: realm, service, scope, error…
    public var parameters: [String: String]

    /// Parses a WWW-Authenticate value (RFC 7235): `Bearer realm="…",service="…",scope="a:b:pull,push"`.
    /// A header may carry several challenges; all are returned in order.
    public static func parse(_ header: String) -> [AuthChallenge] {
        var out: [AuthChallenge] = []
        let b = Array(header.utf8)
        var i = 0
        func skipSpace() { while i < b.count && (b[i] == 0x20 || b[i] == 0x09) { i += 1 } }
        func isTokenChar(_ c: UInt8) -> Bool {
            !(c <= 0x20 || c == 0x2c || c == 0x3d || c == 0x22 || c >= 0x7f)
        }
        func token() -> String {
            let s = i
            while i < b.count && isTokenChar(b[i]) { i += 1 }
            return String(decoding: b[s..<i], as: UTF8.self)
        }
        while i < b.count {
            skipSpace()
            while i < b.count && b[i] == 0x2c { i += 1; skipSpace() }
            let scheme = token()
            if scheme.isEmpty { i += 1; continue }
            var params: [String: String] = [:]
            // Parameters: name=value pairs separated by commas, until the next scheme.
            while true {
                skipSpace()
                let save = i
                let name = token()
                skipSpace()
                guard !name.isEmpty, i < b.count, b[i] == 0x3d else { i = save; break }
                i += 1
                skipSpace()
                var value: [UInt8] = []
                if i < b.count && b[i] == 0x22 {
                    i += 1
                    while i < b.count && b[i] != 0x22 {
                        if b[i] == 0x5c && i + 1 < b.count { i += 1 }
                        value.append(b[i]); i += 1
                    }
                    if i < b.count { i += 1 }
                } else {
                    while i < b.count && b[i] != 0x2c && b[i] != 0x20 { value.append(b[i]); i += 1 }
                }
                params[name.lowercased()] = String(decoding: value, as: UTF8.self)
                skipSpace()
                if i < b.count && b[i] == 0x2c { i += 1 } else { break }
            }
            out.append(AuthChallenge(scheme: scheme.lowercased(), parameters: params))
        }
        return out
    }
}

/// The body of a token server's answer.
struct TokenResponse: Decodable {
    var token: String?
    var access_token: String?
    var expires_in: Int?
}
