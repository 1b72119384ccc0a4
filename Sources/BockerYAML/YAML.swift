import CYaml
import BockerCore

/// A YAML value after resolution: scalars typed by the YAML 1.2 core schema (plain `true`,
/// `12`, `1.5`, `null`, `~`; quoted scalars are strings), aliases expanded, merge keys (`<<`)
/// applied. Mappings keep their order; their keys are scalars.
public indirect enum YAMLValue {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case sequence([YAMLValue])
    case mapping([(key: YAMLValue, value: YAMLValue)])

    /// The text of a scalar key as compose and Kubernetes read it.
    public var scalarText: String? {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let d): return String(d)
        case .string(let s): return s
        default: return nil
        }
    }
}

/// YAML text ↔ `YAMLValue` over libyaml. Owns nothing beyond one call: the parser/emitter
/// state lives and dies inside `decode`/`encode`. Errors are `BockerError(.invalidArgument)`
/// with one line: "yaml: line 3, column 5: <what libyaml or the resolver found>".
public enum YAML {
    /// How many values one document may expand to (aliases multiply: a "billion laughs"
    /// document is refused instead of filling the memory).
    public static let maxValues = 100_000
    /// How deep values may nest (a recursive alias never ends).
    public static let maxDepth = 256

    /// The first document of `text` (`.null` for an empty stream).
    public static func decode(_ text: String) throws -> YAMLValue {
        try decodeAll(text, limit: 1).first ?? .null
    }

    /// Every document of `text`, in order. `limit` stops after that many.
    public static func decodeAll(_ text: String, limit: Int = .max) throws -> [YAMLValue] {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) != 0 else { throw BockerError(.internal, "yaml: cannot initialise the parser") }
        defer { yaml_parser_delete(parser) }
        let bytes = Array(text.utf8)
        return try bytes.withUnsafeBufferPointer { buf -> [YAMLValue] in
            yaml_parser_set_input_string(parser, buf.baseAddress, buf.count)
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            var r = Reader(parser: parser)
            var out: [YAMLValue] = []
            guard case .streamStart = try r.next() else { throw BockerError(.invalidArgument, "yaml: no stream") }
            while out.count < limit {
                let e = try r.next()
                if case .streamEnd = e { break }
                guard case .documentStart = e else { throw BockerError(.invalidArgument, "yaml: expected a document") }
                var b = Builder()
                out.append(try b.value(try r.next(), &r, depth: 0))
                guard case .documentEnd = try r.next() else { throw BockerError(.invalidArgument, "yaml: expected the end of a document") }
            }
            return out
        }
    }

    static func parserError(_ p: UnsafeMutablePointer<yaml_parser_t>) -> BockerError {
        let problem = p.pointee.problem.map { String(cString: $0) } ?? "cannot parse"
        let m = p.pointee.problem_mark
        var msg = "yaml: line \(m.line + 1), column \(m.column + 1): \(problem)"
        if let ctx = p.pointee.context.map({ String(cString: $0) }) {
            msg += " (\(ctx) at line \(p.pointee.context_mark.line + 1), column \(p.pointee.context_mark.column + 1))"
        }
        return BockerError(.invalidArgument, msg)
    }

    static let core = "tag:yaml.org,2002:"

    /// One parser event, copied out of libyaml's (which is freed at once).
    enum Event {
        case streamStart, streamEnd, documentStart, documentEnd, sequenceEnd, mappingEnd
        case alias(anchor: String, at: String)
        case scalar(anchor: String?, tag: String?, text: String, plain: Bool, at: String)
        case sequenceStart(anchor: String?, tag: String?, at: String)
        case mappingStart(anchor: String?, tag: String?, at: String)
    }

    /// Pulls events from the parser.
    struct Reader {
        let parser: UnsafeMutablePointer<yaml_parser_t>

        mutating func next() throws -> Event {
            var ev = yaml_event_t()
            guard yaml_parser_parse(parser, &ev) != 0 else { throw YAML.parserError(parser) }
            defer { yaml_event_delete(&ev) }
            let at = "yaml: line \(ev.start_mark.line + 1), column \(ev.start_mark.column + 1)"
            func str(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? { p.map { String(cString: $0) } }
            switch ev.type {
            case YAML_STREAM_START_EVENT: return .streamStart
            case YAML_STREAM_END_EVENT: return .streamEnd
            case YAML_DOCUMENT_START_EVENT: return .documentStart
            case YAML_DOCUMENT_END_EVENT: return .documentEnd
            case YAML_SEQUENCE_END_EVENT: return .sequenceEnd
            case YAML_MAPPING_END_EVENT: return .mappingEnd
            case YAML_ALIAS_EVENT: return .alias(anchor: str(ev.data.alias.anchor) ?? "", at: at)
            case YAML_SCALAR_EVENT:
                let sc = ev.data.scalar
                let text = String(decoding: UnsafeBufferPointer(start: sc.value, count: sc.length), as: UTF8.self)
                return .scalar(anchor: str(sc.anchor), tag: str(sc.tag), text: text,
                               plain: sc.style == YAML_PLAIN_SCALAR_STYLE, at: at)
            case YAML_SEQUENCE_START_EVENT:
                return .sequenceStart(anchor: str(ev.data.sequence_start.anchor), tag: str(ev.data.sequence_start.tag), at: at)
            case YAML_MAPPING_START_EVENT:
                return .mappingStart(anchor: str(ev.data.mapping_start.anchor), tag: str(ev.data.mapping_start.tag), at: at)
            default:
                throw BockerError(.invalidArgument, "\(at): unexpected event")
            }
        }
    }

    /// Builds one document's values from events: anchors are kept (with how many values each
    /// stands for, so that aliases count towards `maxValues`), merge keys are applied.
    struct Builder {
        var anchors: [String: (value: YAMLValue, size: Int)] = [:]
        var count = 0

        mutating func counted(_ n: Int, _ at: String) throws {
            count += n
            guard count <= YAML.maxValues else {
                throw BockerError(.invalidArgument, "\(at): the document expands to more than \(YAML.maxValues) values (aliases)")
            }
        }

        mutating func value(_ e: Event, _ r: inout Reader, depth: Int) throws -> YAMLValue {
            let before = count
            switch e {
            case .alias(let anchor, let at):
                guard let a = anchors[anchor] else { throw BockerError(.invalidArgument, "\(at): found undefined alias '\(anchor)'") }
                try counted(a.size, at)
                return a.value
            case .scalar(let anchor, let tag, let text, let plain, let at):
                try counted(1, at)
                let v = try YAML.scalar(text, tag: tag, plain: plain, at: at)
                if let anchor { anchors[anchor] = (v, 1) }
                return v
            case .sequenceStart(let anchor, let tag, let at):
                try nesting(depth, tag, "seq", at)
                try counted(1, at)
                var items: [YAMLValue] = []
                while true {
                    let x = try r.next()
                    if case .sequenceEnd = x { break }
                    items.append(try value(x, &r, depth: depth + 1))
                }
                let v = YAMLValue.sequence(items)
                if let anchor { anchors[anchor] = (v, count - before) }
                return v
            case .mappingStart(let anchor, let tag, let at):
                try nesting(depth, tag, "map", at)
                try counted(1, at)
                let v = try mapping(&r, depth: depth)
                if let anchor { anchors[anchor] = (v, count - before) }
                return v
            default:
                throw BockerError(.invalidArgument, "yaml: unexpected event")
            }
        }

        func nesting(_ depth: Int, _ tag: String?, _ kind: String, _ at: String) throws {
            guard depth < YAML.maxDepth else { throw BockerError(.invalidArgument, "\(at): nested more than \(YAML.maxDepth) deep") }
            if let tag, tag != YAML.core + kind, tag != "!" {
                throw BockerError(.invalidArgument, "\(at): the tag \(YAML.shortTag(tag)) is not supported")
            }
        }

        mutating func mapping(_ r: inout Reader, depth: Int) throws -> YAMLValue {
            var own: [(key: YAMLValue, value: YAMLValue)] = []
            var merged: [(key: YAMLValue, value: YAMLValue)] = []
            var seen: [String: Int] = [:]   // key text → line, for duplicate keys
            while true {
                let k = try r.next()
                if case .mappingEnd = k { break }
                guard case .scalar(_, let tag, let text, let plain, let at) = k else {
                    if case .alias(let anchor, let at) = k, let a = anchors[anchor], a.value.scalarText != nil {
                        try own.append(pair(a.value, at, &seen, &r, depth))
                        continue
                    }
                    throw BockerError(.invalidArgument, "\(YAML.position(of: k)): a mapping key must be a scalar")
                }
                if plain && tag == nil && text == "<<" {
                    let v = try value(try r.next(), &r, depth: depth + 1)
                    let sources: [YAMLValue]
                    switch v {
                    case .mapping: sources = [v]
                    case .sequence(let list): sources = list
                    default: throw BockerError(.invalidArgument, "\(at): a merge key (<<) needs a mapping or a list of mappings")
                    }
                    for src in sources {
                        guard case .mapping(let pairs) = src else {
                            throw BockerError(.invalidArgument, "\(at): a merge key (<<) needs a mapping or a list of mappings")
                        }
                        for p in pairs where !merged.contains(where: { $0.key.scalarText == p.key.scalarText }) { merged.append(p) }
                    }
                    continue
                }
                try counted(1, at)
                try own.append(pair(try YAML.scalar(text, tag: tag, plain: plain, at: at), at, &seen, &r, depth))
            }
            for p in merged where seen[p.key.scalarText ?? ""] == nil { own.append(p) }
            return .mapping(own)
        }

        mutating func pair(_ key: YAMLValue, _ at: String, _ seen: inout [String: Int], _ r: inout Reader,
                           _ depth: Int) throws -> (key: YAMLValue, value: YAMLValue) {
            let text = key.scalarText ?? ""
            if let line = seen[text] { throw BockerError(.invalidArgument, "\(at): mapping key \"\(text)\" already defined at line \(line)") }
            seen[text] = Int(at.split(separator: " ")[2].dropLast()) ?? 0
            return (key, try value(try r.next(), &r, depth: depth + 1))
        }
    }

    static func position(of e: Event) -> String {
        switch e {
        case .alias(_, let at), .scalar(_, _, _, _, let at), .sequenceStart(_, _, let at), .mappingStart(_, _, let at): return at
        default: return "yaml"
        }
    }

    static func shortTag(_ tag: String) -> String { tag.hasPrefix(core) ? "!!" + tag.dropFirst(core.count) : tag }

    /// A scalar's value: plain and untagged by the core schema; quoted or `!` untagged as a
    /// string; `!!str`, `!!int`, `!!float`, `!!bool`, `!!null` as asked; other tags are errors.
    static func scalar(_ s: String, tag: String?, plain: Bool, at: String) throws -> YAMLValue {
        guard let tag else { return plain ? resolve(s) : .string(s) }
        if tag == "!" || tag == core + "str" { return .string(s) }
        let r = resolve(s)
        switch (tag.hasPrefix(core) ? String(tag.dropFirst(core.count)) : tag, r) {
        case ("int", .int), ("bool", .bool), ("null", .null), ("float", .float): return r
        case ("float", .int(let i)): return .float(Double(i))
        case ("binary", _), ("timestamp", _): return .string(s)
        case ("int", _), ("bool", _), ("null", _), ("float", _):
            throw BockerError(.invalidArgument, "\(at): '\(s)' is not a valid \(shortTag(tag))")
        default:
            throw BockerError(.invalidArgument, "\(at): the tag \(shortTag(tag)) is not supported")
        }
    }

    /// A plain scalar by the YAML 1.2 core schema: null, booleans, integers (decimal, 0x, 0o),
    /// floats (.inf, .nan); anything else is a string.
    public static func resolve(_ s: String) -> YAMLValue {
        switch s {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .float(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .float(-.infinity)
        case ".nan", ".NaN", ".NAN": return .float(.nan)
        default: break
        }
        let u = Array(s.utf8)
        func digits(_ a: ArraySlice<UInt8>, _ ok: (UInt8) -> Bool) -> Bool { !a.isEmpty && a.allSatisfy(ok) }
        let isDec: (UInt8) -> Bool = { $0 >= 48 && $0 <= 57 }
        if u.count > 2 && u[0] == 48 && (u[1] == UInt8(ascii: "x") || u[1] == UInt8(ascii: "o")) {
            let hex = u[1] == UInt8(ascii: "x")
            let rest = u[2...]
            if hex, digits(rest, { isDec($0) || ($0 | 0x20) >= 97 && ($0 | 0x20) <= 102 }), let v = Int(String(decoding: rest, as: UTF8.self), radix: 16) { return .int(v) }
            if !hex, digits(rest, { $0 >= 48 && $0 <= 55 }), let v = Int(String(decoding: rest, as: UTF8.self), radix: 8) { return .int(v) }
            return .string(s)
        }
        var body = u[...]
        if let f = body.first, f == UInt8(ascii: "-") || f == UInt8(ascii: "+") { body = body.dropFirst() }
        if digits(body, isDec) {
            if let v = Int(s.hasPrefix("+") ? String(s.dropFirst()) : s) { return .int(v) }
            return Double(s).map { .float($0) } ?? .string(s)
        }
        // [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var i = body.startIndex
        var mantissa = 0
        while i < body.endIndex, isDec(body[i]) { i += 1; mantissa += 1 }
        if i < body.endIndex, body[i] == UInt8(ascii: ".") {
            i += 1
            while i < body.endIndex, isDec(body[i]) { i += 1; mantissa += 1 }
        }
        guard mantissa > 0 else { return .string(s) }
        if i < body.endIndex, body[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            if i < body.endIndex, body[i] == UInt8(ascii: "-") || body[i] == UInt8(ascii: "+") { i += 1 }
            let start = i
            while i < body.endIndex, isDec(body[i]) { i += 1 }
            guard i > start else { return .string(s) }
        }
        guard i == body.endIndex, let d = Double(s) else { return .string(s) }
        return .float(d)
    }
}
