import BockerCore
import CCurl

/// One HTTP exchange's answer as scripts see it: status, headers (names lowercased), body.
public struct WebResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
}

/// Plain HTTP for scripts and readiness checks (smoke tests, health gates), over the same
/// libcurl session as the registry client: one request, redirects followed, a time limit.
/// Bodies of 2xx answers are kept up to 16 MiB; others up to 64 KiB.
public enum WebClient {
    static let session = CurlSession(userAgent: "bocker/1.0")

    /// `method` defaults to POST with a body, GET without.
    public static func request(url: String, method: String? = nil, headers: [String: String] = [:],
                               body: [UInt8]? = nil, timeout: Double = 30) throws -> WebResponse {
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw BockerError(.invalidArgument, "invalid URL '\(url)': only http:// and https:// are supported")
        }
        let m = (method ?? (body == nil ? "GET" : "POST")).uppercased()
        guard !m.isEmpty, m.allSatisfy({ $0.isLetter }) else { throw BockerError(.invalidArgument, "invalid HTTP method '\(m)'") }
        var req = HTTPRequest(url: url)
        req.method = m
        req.headers = headers.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        req.followRedirects = true
        req.connectTimeout = max(1, Int(timeout.rounded(.up)))
        req.totalTimeout = timeout
        if let body { req.body = .bytes(body) }
        var received: [UInt8] = []
        var tooLarge = false
        let r = session.perform(req) { chunk in
            if received.count + chunk.count > 16 << 20 { tooLarge = true; return .abort }
            received.append(contentsOf: chunk)
            return .continue
        }
        if tooLarge { throw BockerError(.io, "\(m) \(url): the answer is larger than 16 MiB") }
        if r.curlCode == CURLE_OPERATION_TIMEDOUT {
            throw BockerError(.timeout, "timed out after \(Durations.format(timeout)): \(m) \(url)")
        }
        guard r.curlCode == CURLE_OK, r.status != 0 else {
            throw BockerError(.io, "\(m) \(url): \(r.curlMessage.isEmpty ? "no answer" : r.curlMessage)")
        }
        return WebResponse(status: r.status, headers: r.headers, body: (200..<300).contains(r.status) ? received : r.errorBody)
    }
}
