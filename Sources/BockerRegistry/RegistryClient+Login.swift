#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import BockerCore
import CCurl

extension RegistryClient {
    /// Checks credentials against a registry as `docker login` does, before they are saved:
    /// `GET /v2/`; on a bearer challenge a token is asked for with the credentials (no scope);
    /// on a Basic one they are sent; the registry must then answer 200. A registry that needs
    /// no credentials accepts any. Wrong credentials are `unauthorized`, one line.
    public static func verifyLogin(registry: String, credentials: Credentials) throws {
        let ref = try ImageReference.parse(registry + "/bocker-login-check")
        try RegistryClient(ref, auth: credentials).checkLogin(credentials)
    }

    func checkLogin(_ creds: Credentials) throws {
        let url = registryOrigin + "/v2/"
        let wrong = BockerError(.invalidArgument, "unauthorized: incorrect username or password for \(reference.registry)")
        func get(_ authorization: String?) throws -> HTTPResult {
            try withRetries(what: "/v2/") { _ in
                let r = sendFollowingRedirects(url: url, headers: [], authorization: authorization, sink: { _ in .continue })
                if r.ok || (r.curlCode == CURLE_OK && r.status == 401) { return .done(r) }
                return try classify(r, what: "/v2/", notFound: BockerError(.io, "\(reference.registry) is not a registry (no /v2/)"))
            }
        }
        let first = try get(nil)
        if first.ok { return }
        let challenges = first.headers("www-authenticate").flatMap { AuthChallenge.parse($0) }
        let authorization: String
        if let bearer = challenges.first(where: { $0.scheme == "bearer" }) {
            guard let realm = bearer.parameters["realm"], urlOrigin(realm) != nil else {
                throw BockerError(.io, "registry \(reference.registry) sent a bearer challenge without a usable realm")
            }
            var query = ["account=" + percentEncode(creds.username)]
            if let service = bearer.parameters["service"] { query.insert("service=" + percentEncode(service), at: 0) }
            let tokenURL = realm + (realm.contains("?") ? "&" : "?") + query.joined(separator: "&")
            let token: String = try withRetries(what: "token from \(realm)") { _ in
                var body: [UInt8] = []
                let r = sendFollowingRedirects(url: tokenURL, headers: [], authorization: creds.basicHeaderValue, sink: { chunk in
                    if body.count + chunk.count > 1 << 20 { return .abort }
                    body.append(contentsOf: chunk)
                    return .continue
                })
                if r.curlCode == CURLE_OK && (r.status == 401 || r.status == 403) { throw wrong }
                if r.ok {
                    let t = try decodeJSON(TokenResponse.self, body, what: "token response from \(realm)")
                    guard let token = t.token ?? t.access_token, !token.isEmpty else {
                        throw BockerError(.io, "token server \(realm) sent no token")
                    }
                    return .done(token)
                }
                return try classify(r, what: "token from \(realm)", notFound: BockerError(.io, "token server \(realm) answered HTTP 404"))
            }
            authorization = "Bearer " + token
        } else if challenges.contains(where: { $0.scheme == "basic" }) {
            authorization = creds.basicHeaderValue
        } else {
            throw BockerError(.io, "registry \(reference.registry) asks for an authentication scheme bocker does not speak")
        }
        let second = try get(authorization)
        if !second.ok { throw wrong }
    }
}
