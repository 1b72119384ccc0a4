#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// JSON encoding and decoding of store records, with errors that name the file.
public enum JSONFile {
    public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T {
        let bytes = try FS.read(path)
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch {
            throw BockerError(.io, "corrupt record '\(path)': \(error)")
        }
    }

    public static func write<T: Encodable>(_ value: T, to path: String, durable: Bool = true) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        let data: Data
        do { data = try enc.encode(value) } catch {
            throw BockerError(.internal, "cannot encode '\(path)': \(error)")
        }
        try FS.writeAtomically(path, Array(data), durable: durable)
    }
}
