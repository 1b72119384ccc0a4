#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// The one error type the core throws: a machine-readable code and the one-line message a user
/// should see. Lua scripts receive both (`err.code`, `err.message`).
public struct BockerError: Error, CustomStringConvertible, Equatable {
    /// What kind of failure this is; stable strings scripts can match on.
    public enum Code: String, Sendable {
        case notFound = "not_found"
        case exists = "exists"
        case invalidArgument = "invalid_argument"
        case invalidState = "invalid_state"
        case inUse = "in_use"
        case io = "io"
        case kernel = "kernel"
        case notExecutable = "not_executable"   // exec: 126
        case commandNotFound = "command_not_found"  // exec: 127
        case timeout = "timeout"                // a wait's time limit passed
        case interrupted = "interrupted"        // Ctrl-C (SIGINT) or SIGTERM during a script: 130
        case `internal` = "internal"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    /// An error from a failed system call: "`what`: strerror(errno)".
    public static func errno(_ what: String, _ err: Int32 = Glibc.errno, code: Code = .kernel) -> BockerError {
        BockerError(code, "\(what): \(String(cString: strerror(err)))")
    }
}
