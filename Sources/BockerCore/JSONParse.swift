/// A small, fast JSON reader into `JSONValue` (no Codable machinery: listing a thousand
/// container records must take milliseconds). Objects keep their keys in file order.
extension JSONValue {
    public static func parse(_ bytes: [UInt8]) throws -> JSONValue {
        var p = JSONParser(b: bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("trailing characters") }
        return v
    }

    public subscript(_ key: String) -> JSONValue? {
        if case .object(let fields) = self { return fields.first { $0.0 == key }?.1 }
        return nil
    }

    public var string: String? { if case .string(let s) = self { return s }; return nil }
    public var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var double: Double? {
        switch self { case .int(let i): return Double(i); case .number(let d): return d; default: return nil }
    }
    public var int: Int? {
        switch self { case .int(let i): return i; case .number(let d): return Int(exactly: d); default: return nil }
    }
    public var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    public var strings: [String]? { array?.compactMap(\.string) }
}

struct JSONParser {
    let b: [UInt8]
    var i = 0

    func fail(_ why: String) -> BockerError { BockerError(.io, "bad JSON at byte \(i): \(why)") }

    mutating func skipSpace() {
        while i < b.count, b[i] == 0x20 || b[i] == 0x0a || b[i] == 0x0d || b[i] == 0x09 { i += 1 }
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 128 else { throw fail("nested too deep") }
        guard i < b.count else { throw fail("unexpected end") }
        switch b[i] {
        case 0x7b: // {
            i += 1
            var fields: [(String, JSONValue)] = []
            skipSpace()
            if i < b.count, b[i] == 0x7d { i += 1; return .object(fields) }
            while true {
                skipSpace()
                guard i < b.count, b[i] == 0x22 else { throw fail("expected a key") }
                let k = try string()
                skipSpace()
                guard i < b.count, b[i] == 0x3a else { throw fail("expected ':'") }
                i += 1
                skipSpace()
                fields.append((k, try value(depth: depth + 1)))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == 0x2c { i += 1; continue }
                if b[i] == 0x7d { i += 1; return .object(fields) }
                throw fail("expected ',' or '}'")
            }
        case 0x5b: // [
            i += 1
            var items: [JSONValue] = []
            skipSpace()
            if i < b.count, b[i] == 0x5d { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < b.count else { throw fail("unexpected end") }
                if b[i] == 0x2c { i += 1; continue }
                if b[i] == 0x5d { i += 1; return .array(items) }
                throw fail("expected ',' or ']'")
            }
        case 0x22: return .string(try string())
        case 0x74: try word("true"); return .bool(true)
        case 0x66: try word("false"); return .bool(false)
        case 0x6e: try word("null"); return .null
        default: return try number()
        }
    }

    mutating func word(_ w: StaticString) throws {
        let n = w.utf8CodeUnitCount
        guard i + n <= b.count else { throw fail("unexpected end") }
        for k in 0..<n where b[i + k] != w.utf8Start[k] { throw fail("bad literal") }
        i += n
    }

    mutating func number() throws -> JSONValue {
        let start = i
        var isInt = true
        while i < b.count {
            let c = b[i]
            if (c >= 0x30 && c <= 0x39) || c == 0x2d { i += 1; continue }
            if c == 0x2e || c == 0x65 || c == 0x45 || c == 0x2b { isInt = false; i += 1; continue }
            break
        }
        let text = String(decoding: b[start..<i], as: UTF8.self)
        if isInt, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw fail("bad number '\(text)'") }
        return .number(d)
    }

    mutating func string() throws -> String {
        i += 1 // opening quote
        var out: [UInt8] = []
        var start = i
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                let s: String
                if out.isEmpty { s = String(decoding: b[start..<i], as: UTF8.self) }   // no escapes: one copy
                else { out += b[start..<i]; s = String(decoding: out, as: UTF8.self) }
                i += 1
                return s
            }
            if c == 0x5c {
                out += b[start..<i]
                i += 1
                guard i < b.count else { break }
                switch b[i] {
                case 0x6e: out.append(0x0a)
                case 0x74: out.append(0x09)
                case 0x72: out.append(0x0d)
                case 0x62: out.append(0x08)
                case 0x66: out.append(0x0c)
                case 0x75:
                    guard i + 4 < b.count, let u = UInt32(String(decoding: b[(i + 1)...(i + 4)], as: UTF8.self), radix: 16) else {
                        throw fail("bad \\u escape")
                    }
                    i += 4
                    var scalar = u
                    // A surrogate pair.
                    if u >= 0xd800 && u < 0xdc00, i + 6 < b.count, b[i + 1] == 0x5c, b[i + 2] == 0x75,
                       let lo = UInt32(String(decoding: b[(i + 3)...(i + 6)], as: UTF8.self), radix: 16), lo >= 0xdc00 && lo < 0xe000 {
                        scalar = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00)
                        i += 6
                    }
                    out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{fffd}").utf8)
                default: out.append(b[i])   // \" \\ \/
                }
                i += 1
                start = i
                continue
            }
            i += 1
        }
        throw fail("unterminated string")
    }
}
