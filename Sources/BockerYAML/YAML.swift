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
        var parser = yaml_parser_t()
        guard yaml_parser_initialize(&parser) != 0 else { throw BockerError(.internal, "yaml: cannot initialise the parser") }
        defer { yaml_parser_delete(&parser) }
        let bytes = Array(text.utf8)
        var out: [YAMLValue] = []
        try bytes.withUnsafeBufferPointer { buf in
            yaml_parser_set_input_string(&parser, buf.baseAddress, buf.count)
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            while out.count < limit {
                var doc = yaml_document_t()
                guard yaml_parser_load(&parser, &doc) != 0 else { throw parserError(&parser) }
                defer { yaml_document_delete(&doc) }
                guard yaml_document_get_root_node(&doc) != nil else { break }
                var b = Builder(doc: &doc)
                out.append(try b.value(1, depth: 0))
            }
        }
        return out
    }

    static func parserError(_ p: inout yaml_parser_t) -> BockerError {
        let problem = p.problem.map { String(cString: $0) } ?? "cannot parse"
        var msg = "yaml: line \(p.problem_mark.line + 1), column \(p.problem_mark.column + 1): \(problem)"
        if let ctx = p.context.map({ String(cString: $0) }) {
            msg += " (\(ctx) at line \(p.context_mark.line + 1), column \(p.context_mark.column + 1))"
        }
        return BockerError(.invalidArgument, msg)
    }

    static let strTag = "tag:yaml.org,2002:str"

    /// Converts the nodes of one loaded document (libyaml resolves aliases to node indexes).
    struct Builder {
        let doc: UnsafeMutablePointer<yaml_document_t>
        var count = 0

        init(doc: UnsafeMutablePointer<yaml_document_t>) { self.doc = doc }

        func node(_ i: Int32) -> UnsafeMutablePointer<yaml_node_t> { yaml_document_get_node(doc, i)! }

        func at(_ n: UnsafeMutablePointer<yaml_node_t>) -> String {
            "yaml: line \(n.pointee.start_mark.line + 1), column \(n.pointee.start_mark.column + 1)"
        }

        mutating func value(_ i: Int32, depth: Int) throws -> YAMLValue {
            let n = node(i)
            count += 1
            guard count <= YAML.maxValues else {
                throw BockerError(.invalidArgument, "\(at(n)): the document expands to more than \(YAML.maxValues) values (aliases)")
            }
            guard depth < YAML.maxDepth else {
                throw BockerError(.invalidArgument, "\(at(n)): nested more than \(YAML.maxDepth) deep (a recursive alias?)")
            }
            switch n.pointee.type {
            case YAML_SCALAR_NODE:
                return try scalar(n)
            case YAML_SEQUENCE_NODE:
                var items: [YAMLValue] = []
                var p = n.pointee.data.sequence.items.start
                while let q = p, q != n.pointee.data.sequence.items.top {
                    items.append(try value(q.pointee, depth: depth + 1))
                    p = q + 1
                }
                return .sequence(items)
            case YAML_MAPPING_NODE:
                return try mapping(n, depth: depth)
            default:
                return .null
            }
        }

        func text(_ n: UnsafeMutablePointer<yaml_node_t>) -> String {
            let s = n.pointee.data.scalar
            return String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
        }

        func scalar(_ n: UnsafeMutablePointer<yaml_node_t>) throws -> YAMLValue {
            let s = text(n)
            let tag = n.pointee.tag.map { String(cString: $0) } ?? YAML.strTag
            if tag != YAML.strTag {
                let want = tag.hasPrefix("tag:yaml.org,2002:") ? String(tag.dropFirst(18)) : tag
                let r = YAML.resolve(s)
                switch (want, r) {
                case ("int", .int), ("bool", .bool), ("null", .null): return r
                case ("float", .float): return r
                case ("float", .int(let i)): return .float(Double(i))
                case ("binary", _), ("timestamp", _): return .string(s)
                default: throw BockerError(.invalidArgument, "\(at(n)): '\(s)' is not a valid !!\(want)")
                }
            }
            guard n.pointee.data.scalar.style == YAML_PLAIN_SCALAR_STYLE else { return .string(s) }
            return YAML.resolve(s)
        }

        mutating func mapping(_ n: UnsafeMutablePointer<yaml_node_t>, depth: Int) throws -> YAMLValue {
            var own: [(key: YAMLValue, value: YAMLValue)] = []
            var merged: [(key: YAMLValue, value: YAMLValue)] = []
            var seen: [String: Int] = [:]   // key text → line, for duplicate keys
            var p = n.pointee.data.mapping.pairs.start
            while let q = p, q != n.pointee.data.mapping.pairs.top {
                p = q + 1
                let kn = node(q.pointee.key)
                if kn.pointee.type == YAML_SCALAR_NODE && kn.pointee.data.scalar.style == YAML_PLAIN_SCALAR_STYLE && text(kn) == "<<" {
                    let v = try value(q.pointee.value, depth: depth + 1)
                    let sources: [YAMLValue]
                    switch v {
                    case .mapping: sources = [v]
                    case .sequence(let list): sources = list
                    default: throw BockerError(.invalidArgument, "\(at(kn)): a merge key (<<) needs a mapping or a list of mappings")
                    }
                    for src in sources {
                        guard case .mapping(let pairs) = src else {
                            throw BockerError(.invalidArgument, "\(at(kn)): a merge key (<<) needs a mapping or a list of mappings")
                        }
                        for pair in pairs where !merged.contains(where: { $0.key.scalarText == pair.key.scalarText }) {
                            merged.append(pair)
                        }
                    }
                    continue
                }
                guard kn.pointee.type == YAML_SCALAR_NODE else {
                    throw BockerError(.invalidArgument, "\(at(kn)): a mapping key must be a scalar")
                }
                let key = try scalar(kn)
                let keyText = key.scalarText ?? ""
                if let line = seen[keyText] {
                    throw BockerError(.invalidArgument, "\(at(kn)): mapping key \"\(keyText)\" already defined at line \(line)")
                }
                seen[keyText] = Int(kn.pointee.start_mark.line) + 1
                count += 1
                own.append((key, try value(q.pointee.value, depth: depth + 1)))
            }
            for pair in merged where seen[pair.key.scalarText ?? ""] == nil {
                own.append(pair)
            }
            return .mapping(own)
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
