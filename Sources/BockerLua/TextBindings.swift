import CLua
import BockerCore

/// `bocker.text`: text shaping scripts ask for often and in bulk, done in one call instead of a
/// Lua loop per cell. Scripts still choose every column and cell; this only lays them out.
enum TextBindings {
    static let functions: Modules.Functions = [("columns", columns)]

    /// bocker.text.columns(headers, rows [, gap]) → the table as text: every row a line ending
    /// in "\n", each column padded with spaces to its widest cell (bytes, as `#` counts) and
    /// `gap` spaces (default 3) before the next; the last cell of a line is not padded. Cells
    /// are strings or numbers (as `tostring` shows them); anything else, or a row with a hole,
    /// is an error naming the row and column. Tables are read raw (no metamethods).
    static let columns: clua_swift_function = { L in
        binding(L) { lua in
            guard lua_type(L, 1) == LUA_TTABLE, lua_type(L, 2) == LUA_TTABLE else {
                throw BockerError(.invalidArgument, "bad arguments to 'bocker.text.columns' (headers and rows tables expected)")
            }
            let gap = lua_type(L, 3) == LUA_TNUMBER ? max(0, Int(clua_tointegerx(L, 3, nil))) : 3
            let rowCount = Int(lua_rawlen(L, 2))
            lua_createtable(L, 0, 0)
            let keep = lua_gettop(L)
            var kept: lua_Integer = 0
            // Every cell (the headers' first) as its bytes, read while the values stay
            // referenced (Lua does not move strings), row by row: `ends[k]` is where row k's
            // cells end in `cells`.
            var cells: [UnsafeRawBufferPointer] = []
            cells.reserveCapacity((rowCount + 1) * 8)
            var ends: [Int] = []
            ends.reserveCapacity(rowCount + 1)
            var widths: [Int] = []
            for r in 0...rowCount {
                let t: Int32
                if r == 0 {
                    t = 1
                } else {
                    guard lua_rawgeti(L, 2, lua_Integer(r)) == LUA_TTABLE else {
                        throw BockerError(.invalidArgument, "bocker.text.columns: row \(r) is not a table")
                    }
                    t = lua_gettop(L)
                }
                let n = Int(lua_rawlen(L, t))
                var c = 1
                while c <= n {
                    let type = lua_rawgeti(L, t, lua_Integer(c))
                    guard type == LUA_TSTRING || type == LUA_TNUMBER else {
                        let name = r == 0 ? "headers" : "row \(r)"
                        throw BockerError(.invalidArgument, "bocker.text.columns: \(name), column \(c) is a \(String(cString: lua_typename(L, type))) (strings and numbers only)")
                    }
                    // A number becomes its text on the stack (as tostring shows it, with no
                    // metamethod), kept alive in `keep`; a string stays alive in its row.
                    var len = 0
                    let p = clua_tolstring(L, -1, &len)
                    if type == LUA_TNUMBER {
                        kept += 1
                        lua_rawseti(L, keep, kept)
                    } else {
                        clua_pop(L, 1)
                    }
                    cells.append(UnsafeRawBufferPointer(start: p, count: len))
                    if c > widths.count { widths.append(len) } else if len > widths[c - 1] { widths[c - 1] = len }
                    c += 1
                }
                if r > 0 { clua_pop(L, 1) }
                ends.append(cells.count)
            }
            var total = 0, start = 0
            for end in ends {
                for c in start..<end { total += c + 1 < end ? widths[c - start] + gap : cells[c].count }
                total += 1
                start = end
            }
            var out = [UInt8](repeating: UInt8(ascii: " "), count: total)
            out.withUnsafeMutableBytes { buf in
                var at = 0, start = 0
                for end in ends {
                    for c in start..<end {
                        let cell = cells[c]
                        if let base = cell.baseAddress, cell.count > 0 {
                            (buf.baseAddress! + at).copyMemory(from: base, byteCount: cell.count)
                        }
                        at += c + 1 < end ? widths[c - start] + gap : cell.count
                    }
                    buf[at] = UInt8(ascii: "\n")
                    at += 1
                    start = end
                }
            }
            out.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { _ = lua_pushlstring(L, $0.baseAddress, $0.count) }
            }
            return 1
        }
    }
}
