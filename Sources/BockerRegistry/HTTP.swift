import CCurl
import Glibc

/// A pthread mutex (no Foundation): guards the handle pool and the token cache.
final class Lock: @unchecked Sendable {
    private let m: UnsafeMutablePointer<pthread_mutex_t>
    init() {
        m = .allocate(capacity: 1)
        m.initialize(to: pthread_mutex_t())
        pthread_mutex_init(m, nil)
    }
    deinit {
        pthread_mutex_destroy(m)
        m.deallocate()
    }
    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(m)
        defer { pthread_mutex_unlock(m) }
        return try body()
    }
}

/// One HTTP exchange's outcome. `status` is 0 when no response arrived (then `curlCode` says why).
struct HTTPResult {
    var curlCode: CURLcode = CURLE_OK
    var curlMessage = ""
    var status = 0
    /// Headers of the last response only (a redirect's headers are dropped), names lowercased.
    var headers: [(name: String, value: String)] = []
    /// The absolute Location of a 3xx, as libcurl resolved it.
    var redirectURL: String?
    /// Up to 64 KiB of the body of a non-2xx response (for error messages).
    var errorBody: [UInt8] = []
    /// Connections libcurl had to open for this exchange (0: an idle kept-alive one was reused).
    var newConnections = 0
    /// Set when the body sink asked to stop (its own error is then in the caller's hands).
    var abortedBySink = false
    /// Set when the session's deadline passed before or during the exchange (never retried).
    var deadlinePassed = false

    var ok: Bool { curlCode == CURLE_OK && (200..<300).contains(status) }

    func header(_ name: String) -> String? {
        let n = name.lowercased()
        return headers.first(where: { $0.name == n })?.value
    }

    func headers(_ name: String) -> [String] {
        let n = name.lowercased()
        return headers.filter { $0.name == n }.map(\.value)
    }

    /// True for transport failures worth another try (dropped or reset connections, timeouts).
    var isTransientTransportError: Bool {
        switch curlCode {
        case CURLE_COULDNT_CONNECT, CURLE_PARTIAL_FILE, CURLE_RECV_ERROR, CURLE_SEND_ERROR,
             CURLE_GOT_NOTHING, CURLE_OPERATION_TIMEDOUT, CURLE_HTTP2, CURLE_HTTP2_STREAM,
             CURLE_SSL_CONNECT_ERROR:
            return !abortedBySink && !deadlinePassed
        default:
            return false
        }
    }
}

/// What a body sink tells the transfer.
enum SinkVerdict { case `continue`, abort }

/// The request a `CurlSession` performs.
struct HTTPRequest {
    var url: String
    var method = "GET"
    var headers: [String] = []
    /// Let libcurl follow redirects itself (only the libcurl behaviour test uses this; the
    /// registry client follows redirects by hand so it can drop Authorization across hosts).
    var followRedirects = false
    var connectTimeout = 30
    /// Abort when fewer than `lowSpeedLimit` bytes/s arrive for `lowSpeedTime` seconds.
    var lowSpeedLimit = 1
    var lowSpeedTime = 60
    /// A CA bundle to trust instead of the system's (a private registry's ca.crt).
    var caFile: String?
    /// The request body (PUT, PATCH, POST); nil: none.
    var body: HTTPBody?
    /// The whole exchange's time limit in seconds (nil: none beyond the low-speed rule).
    var totalTimeout: Double?
}

/// A request body: its length and a way to read it from the start (a redirect or an
/// authentication round sends it again). The reader fills the buffer and returns the bytes it
/// gave (0 at the end, -1 to abort).
struct HTTPBody {
    var length: Int64
    var makeReader: () -> (UnsafeMutableRawBufferPointer) -> Int

    static func bytes(_ b: [UInt8]) -> HTTPBody {
        HTTPBody(length: Int64(b.count)) {
            var offset = 0
            return { buf in
                let n = min(buf.count, b.count - offset)
                if n > 0 { b.withUnsafeBytes { buf.baseAddress!.copyMemory(from: $0.baseAddress! + offset, byteCount: n) } }
                offset += n
                return n
            }
        }
    }

    /// `length` bytes of the open file fd from `offset` (pread: the fd is shared); `sent` gets
    /// the bytes handed out so far.
    static func file(_ fd: Int32, offset: Int64, length: Int64, sent: ((Int64) -> Void)? = nil) -> HTTPBody {
        HTTPBody(length: length) {
            var done: Int64 = 0
            return { buf in
                let want = Int(min(Int64(buf.count), length - done))
                if want == 0 { return 0 }
                while true {
                    let n = pread(fd, buf.baseAddress, want, off_t(offset + done))
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return -1 }
                    done += Int64(n)
                    sent?(done)
                    return n
                }
            }
        }
    }
}

/// The per-transfer state the C callbacks reach through their context pointer.
private final class TransferContext {
    var status = 0
    var headers: [(name: String, value: String)] = []
    var errorBody: [UInt8] = []
    var abortedBySink = false
    var headDelivered = false
    let onHead: ((Int, [(name: String, value: String)]) -> SinkVerdict)?
    let sink: (UnsafeRawBufferPointer) -> SinkVerdict
    var reader: ((UnsafeMutableRawBufferPointer) -> Int)?

    init(onHead: ((Int, [(name: String, value: String)]) -> SinkVerdict)?,
         sink: @escaping (UnsafeRawBufferPointer) -> SinkVerdict) {
        self.onHead = onHead
        self.sink = sink
    }
}

private let headerCallback: bk_curl_data_callback = { data, size, nmemb, ctx in
    let n = size * nmemb
    guard let data, let ctx else { return n }
    let t = Unmanaged<TransferContext>.fromOpaque(ctx).takeUnretainedValue()
    let line = String(decoding: UnsafeRawBufferPointer(start: data, count: n), as: UTF8.self)
    if line.hasPrefix("HTTP/") {
        // A new response (after a 1xx, or a redirect libcurl follows): start over.
        t.headers = []
        let parts = line.split(separator: " ", maxSplits: 2)
        t.status = parts.count >= 2 ? Int(parts[1]) ?? 0 : 0
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].lowercased()
        let value = String(line[line.index(after: colon)...]).trimmingCharacters(in: " \t\r\n")
        t.headers.append((name, value))
    }
    return n
}

private let readCallback: bk_curl_data_callback = { data, size, nmemb, ctx in
    guard let data, let ctx else { return 0 }
    let t = Unmanaged<TransferContext>.fromOpaque(ctx).takeUnretainedValue()
    guard let reader = t.reader else { return 0 }
    let n = reader(UnsafeMutableRawBufferPointer(start: data, count: size * nmemb))
    return n < 0 ? Int(CURL_READFUNC_ABORT) : n
}

private let writeCallback: bk_curl_data_callback = { data, size, nmemb, ctx in
    let n = size * nmemb
    guard let data, let ctx else { return n }
    let t = Unmanaged<TransferContext>.fromOpaque(ctx).takeUnretainedValue()
    let chunk = UnsafeRawBufferPointer(start: data, count: n)
    if (200..<300).contains(t.status) {
        if !t.headDelivered {
            t.headDelivered = true
            if let onHead = t.onHead, onHead(t.status, t.headers) == .abort {
                t.abortedBySink = true
                return 0
            }
        }
        if t.sink(chunk) == .abort {
            t.abortedBySink = true
            return 0   // makes libcurl fail the transfer with CURLE_WRITE_ERROR
        }
    } else if t.errorBody.count < 65536 {
        t.errorBody.append(contentsOf: chunk.prefix(65536 - t.errorBody.count))
    }
    return n
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let strip = Set(set.utf8)
        var bytes = Array(utf8)[...]
        while let f = bytes.first, strip.contains(f) { bytes = bytes.dropFirst() }
        while let l = bytes.last, strip.contains(l) { bytes = bytes.dropLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The index range of the first occurrence of `needle` (no Foundation).
    func find(_ needle: String) -> Range<String.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) {
                return i..<index(i, offsetBy: needle.count)
            }
            i = index(after: i)
        }
        return nil
    }
}

/// A pool of libcurl easy handles. A handle is used by one thread at a time (checked out for one
/// transfer, then returned), and keeps its connections alive between transfers, so sequential
/// requests reuse a connection while concurrent ones each get their own handle.
final class CurlSession: @unchecked Sendable {
    private static let globalInit: CURLcode = bk_curl_global_init()

    private let lock = Lock()
    private var idle: [UnsafeMutableRawPointer] = []
    let userAgent: String
    /// When every exchange must be over (CLOCK_MONOTONIC seconds; nil: no limit): an overall
    /// timeout of a pull or push. Set before the first transfer.
    var deadline: Double?

    static func monotonicNow() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    init(userAgent: String = "bocker/1.0") {
        _ = Self.globalInit
        self.userAgent = userAgent
    }

    deinit {
        for h in idle { bk_curl_easy_cleanup(h) }
    }

    static var versionString: String { String(cString: bk_curl_version()) }
    static var versionNumber: UInt32 { bk_curl_version_num() }

    private func checkout() -> UnsafeMutableRawPointer? {
        if let h = lock.withLock({ idle.popLast() }) { return h }
        return bk_curl_easy_init()
    }

    private func checkin(_ h: UnsafeMutableRawPointer) {
        lock.withLock {
            if idle.count < 8 { idle.append(h) } else { bk_curl_easy_cleanup(h) }
        }
    }

    /// Performs one request (following no redirects unless asked). 2xx bodies go to `sink`; other
    /// bodies are kept (64 KiB at most) in `errorBody`.
    /// `onHead` sees the status and headers of a 2xx response before its first body byte.
    func perform(_ req: HTTPRequest,
                 onHead: ((Int, [(name: String, value: String)]) -> SinkVerdict)? = nil,
                 sink: @escaping (UnsafeRawBufferPointer) -> SinkVerdict) -> HTTPResult {
        var result = HTTPResult()
        var limit = req.totalTimeout
        if let deadline {
            let left = deadline - Self.monotonicNow()
            if left <= 0 {
                result.curlCode = CURLE_OPERATION_TIMEDOUT
                result.curlMessage = "out of time"
                result.deadlinePassed = true
                return result
            }
            limit = min(limit ?? left, left)
        }
        guard let h = checkout() else {
            result.curlCode = CURLE_FAILED_INIT
            result.curlMessage = bk_curl_load_error().map { String(cString: $0) } ?? "cannot create a libcurl handle"
            return result
        }
        defer { checkin(h) }
        bk_curl_easy_reset(h)

        let ctx = TransferContext(onHead: onHead, sink: sink)
        let ctxPtr = Unmanaged.passUnretained(ctx).toOpaque()
        var errbuf = [CChar](repeating: 0, count: Int(BK_CURL_ERROR_SIZE) + 1)
        var list: UnsafeMutablePointer<curl_slist>? = nil
        for line in req.headers { list = bk_curl_slist_append(list, line) }
        // No "Expect: 100-continue" wait before a body.
        if req.body != nil { list = bk_curl_slist_append(list, "Expect:") }
        defer { bk_curl_slist_free_all(list) }

        let code: CURLcode = errbuf.withUnsafeMutableBufferPointer { eb in
            bk_curl_set_error_buffer(h, eb.baseAddress)
            bk_curl_setopt_string(h, CURLOPT_URL, req.url)
            bk_curl_setopt_string(h, CURLOPT_USERAGENT, userAgent)
            bk_curl_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
            bk_curl_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            bk_curl_setopt_long(h, CURLOPT_NOSIGNAL, 1)
            bk_curl_setopt_long(h, CURLOPT_CONNECTTIMEOUT, req.connectTimeout)
            bk_curl_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, req.lowSpeedLimit)
            bk_curl_setopt_long(h, CURLOPT_LOW_SPEED_TIME, req.lowSpeedTime)
            if let t = limit { bk_curl_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, Int(t * 1000))) }
            bk_curl_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
            bk_curl_setopt_long(h, CURLOPT_FOLLOWLOCATION, req.followRedirects ? 1 : 0)
            bk_curl_setopt_long(h, CURLOPT_MAXREDIRS, 10)
            // Never let libcurl re-send credentials to another host, even when it follows.
            bk_curl_setopt_long(h, CURLOPT_UNRESTRICTED_AUTH, 0)
            if let body = req.body {
                ctx.reader = body.makeReader()
                bk_curl_setopt_long(h, CURLOPT_UPLOAD, 1)
                bk_curl_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(body.length))
                bk_curl_set_read_callback(h, readCallback, ctxPtr)
                bk_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, req.method)
            } else if req.method == "HEAD" {
                bk_curl_setopt_long(h, CURLOPT_NOBODY, 1)
            } else if req.method != "GET" {
                bk_curl_setopt_string(h, CURLOPT_CUSTOMREQUEST, req.method)
            }
            bk_curl_setopt_slist(h, CURLOPT_HTTPHEADER, list)
            if let ca = req.caFile { bk_curl_setopt_string(h, CURLOPT_CAINFO, ca) }
            bk_curl_set_header_callback(h, headerCallback, ctxPtr)
            bk_curl_set_write_callback(h, writeCallback, ctxPtr)
            return withExtendedLifetime(ctx) { bk_curl_easy_perform(h) }
        }
        result.curlCode = code
        if code != CURLE_OK {
            let detail = String(cString: errbuf)
            result.curlMessage = detail.isEmpty ? String(cString: bk_curl_easy_strerror(code)) : detail
        }
        var status = 0
        if bk_curl_getinfo_long(h, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK, status != 0 {
            result.status = status
        } else {
            result.status = ctx.status
        }
        var connects = 0
        if bk_curl_getinfo_long(h, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK { result.newConnections = connects }
        result.headers = ctx.headers
        result.errorBody = ctx.errorBody
        result.abortedBySink = ctx.abortedBySink
        if let deadline, code == CURLE_OPERATION_TIMEDOUT || code == CURLE_ABORTED_BY_CALLBACK,
           Self.monotonicNow() >= deadline - 0.005 {
            result.deadlinePassed = true
        }
        if (300..<400).contains(result.status) {
            var loc: UnsafePointer<CChar>? = nil
            if bk_curl_getinfo_string(h, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK, let loc {
                result.redirectURL = String(cString: loc)
            }
        }
        return result
    }
}

/// The scheme, host and port of a URL, lowercased, with the default port made explicit: what
/// "the same host" means when deciding whether credentials may follow a redirect.
func urlOrigin(_ url: String) -> String? {
    guard let schemeEnd = url.find("://") else { return nil }
    let scheme = url[..<schemeEnd.lowerBound].lowercased()
    guard scheme == "http" || scheme == "https" else { return nil }
    var rest = url[schemeEnd.upperBound...]
    if let end = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) { rest = rest[..<end] }
    if let at = rest.lastIndex(of: "@") { rest = rest[rest.index(after: at)...] }
    var hostPort = String(rest).lowercased()
    let hasPort: Bool
    if hostPort.hasPrefix("[") {
        hasPort = hostPort.find("]:") != nil
    } else {
        hasPort = hostPort.contains(":")
    }
    if !hasPort { hostPort += scheme == "https" ? ":443" : ":80" }
    return scheme + "://" + hostPort
}

/// Percent-encodes a query component (RFC 3986 unreserved characters stay as they are).
func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = Array("0123456789ABCDEF")
            out.append("%")
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xf)])
        }
    }
    return out
}
