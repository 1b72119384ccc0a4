import CYaml
import BockerCore

extension YAML {
    /// YAML text of `value` (one document, block style). Strings that would read back as
    /// another type (`"true"`, `"12"`, `""`) are quoted; strings with newlines are literal
    /// blocks (`|`). Libyaml decides the rest of the quoting.
    public static func encode(_ value: YAMLValue) throws -> String {
        let out = Output()
        let e = UnsafeMutablePointer<yaml_emitter_t>.allocate(capacity: 1)
        e.initialize(to: yaml_emitter_t())
        let ev = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        ev.initialize(to: yaml_event_t())
        defer { e.deallocate(); ev.deallocate() }
        guard yaml_emitter_initialize(e) != 0 else { throw BockerError(.internal, "yaml: cannot initialise the emitter") }
        defer { yaml_emitter_delete(e) }
        yaml_emitter_set_unicode(e, 1)
        yaml_emitter_set_width(e, -1)
        yaml_emitter_set_indent(e, 2)
        let box = Unmanaged.passRetained(out)
        defer { box.release() }
        yaml_emitter_set_output(e, { data, buffer, size in
            let o = Unmanaged<Output>.fromOpaque(data!).takeUnretainedValue()
            if let b = buffer { o.bytes.append(contentsOf: UnsafeBufferPointer(start: b, count: size)) }
            return 1
        }, box.toOpaque())

        func emit(_ ok: Int32) throws {
            guard ok != 0, yaml_emitter_emit(e, ev) != 0 else {
                let problem = e.pointee.problem.map { String(cString: $0) } ?? "cannot emit"
                throw BockerError(.invalidArgument, "yaml: \(problem)")
            }
        }
        try emit(yaml_stream_start_event_initialize(ev, YAML_UTF8_ENCODING))
        try emit(yaml_document_start_event_initialize(ev, nil, nil, nil, 1))
        try emitValue(value, emit: emit, ev: ev, depth: 0)
        try emit(yaml_document_end_event_initialize(ev, 1))
        try emit(yaml_stream_end_event_initialize(ev))
        _ = yaml_emitter_flush(e)
        return String(decoding: out.bytes, as: UTF8.self)
    }

    final class Output { var bytes: [UInt8] = [] }

    /// Plain scalars that a YAML 1.1 reader (PyYAML, older tools) would not read as strings:
    /// yes/no/on/off, and numbers with '_' or sexagesimal ':' (22:22). Those are quoted too.
    static func looksTyped11(_ s: String) -> Bool {
        switch s.lowercased() {
        case "yes", "no", "on", "off", "y", "n": return true
        default: break
        }
        guard let f = s.utf8.first, (f >= 48 && f <= 57) || f == UInt8(ascii: "-") || f == UInt8(ascii: "+") || f == UInt8(ascii: ".") else { return false }
        return s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".")
                                   || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") }
    }

    static func emitValue(_ v: YAMLValue, emit: (Int32) throws -> Void, ev: UnsafeMutablePointer<yaml_event_t>, depth: Int) throws {
        guard depth < maxDepth else { throw BockerError(.invalidArgument, "yaml: nested more than \(maxDepth) deep (a cycle?)") }
        func scalar(_ text: String, plain: Bool, style: yaml_scalar_style_t) throws {
            var bytes = Array(text.utf8) + [0]   // never empty, so baseAddress is never nil
            let n = Int32(bytes.count - 1)
            try bytes.withUnsafeMutableBufferPointer { b in
                try emit(yaml_scalar_event_initialize(ev, nil, nil, b.baseAddress!, n, plain ? 1 : 0, 1, style))
            }
        }
        switch v {
        case .null: try scalar("null", plain: true, style: YAML_PLAIN_SCALAR_STYLE)
        case .bool(let b): try scalar(b ? "true" : "false", plain: true, style: YAML_PLAIN_SCALAR_STYLE)
        case .int(let i): try scalar(String(i), plain: true, style: YAML_PLAIN_SCALAR_STYLE)
        case .float(let d):
            let t = d.isNaN ? ".nan" : d.isInfinite ? (d < 0 ? "-.inf" : ".inf") : String(d)
            try scalar(t, plain: true, style: YAML_PLAIN_SCALAR_STYLE)
        case .string(let s):
            if s.contains("\n") {
                try scalar(s, plain: false, style: YAML_LITERAL_SCALAR_STYLE)
            } else if case .string = resolve(s), !looksTyped11(s) {
                try scalar(s, plain: true, style: YAML_ANY_SCALAR_STYLE)
            } else {
                try scalar(s, plain: false, style: YAML_DOUBLE_QUOTED_SCALAR_STYLE)
            }
        case .sequence(let items):
            try emit(yaml_sequence_start_event_initialize(ev, nil, nil, 1, YAML_ANY_SEQUENCE_STYLE))
            for x in items { try emitValue(x, emit: emit, ev: ev, depth: depth + 1) }
            try emit(yaml_sequence_end_event_initialize(ev))
        case .mapping(let pairs):
            try emit(yaml_mapping_start_event_initialize(ev, nil, nil, 1, YAML_ANY_MAPPING_STYLE))
            for p in pairs {
                try emitValue(p.key, emit: emit, ev: ev, depth: depth + 1)
                try emitValue(p.value, emit: emit, ev: ev, depth: depth + 1)
            }
            try emit(yaml_mapping_end_event_initialize(ev))
        }
    }
}
