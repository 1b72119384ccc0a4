import Glibc
import BockerCore
import CArchive

/// `bocker cp`'s transport: a file or tree under a directory fd as a tar stream, a tar stream
/// extracted under a directory fd, and the two joined (a thread writes, this one extracts).
/// Every path is handled relative to fds: the writer opens each name with O_NOFOLLOW, the
/// extractor resolves parents with openat2 RESOLVE_IN_ROOT under the target directory.
public enum TreeCopy {
    /// Writes `dirFD`/`name` (not followed) as the tar entry `tarName` (and, for a directory,
    /// everything under it) to `fd`; an empty `tarName` writes only a directory's contents.
    public static func writeTar(dirFD: Int32, name: String, tarName: String, to fd: Int32) throws {
        var sink = Sink(fd: fd)
        var err = [CChar](repeating: 0, count: 512)
        let rc = withUnsafeMutablePointer(to: &sink) { p in
            bk_tar_write_entry(dirFD, name, tarName, sinkWrite, p, &err, err.count)
        }
        if rc != 0 {
            if sink.errorNumber == EPIPE || sink.errorNumber == ECONNRESET {
                throw BockerError(.io, "the reader of the copy went away")
            }
            throw BockerError(.io, String(cString: err))
        }
    }

    /// Extracts the tar read from `fd` under the directory `dirFD` (`.wh.` names are ordinary
    /// files; nothing outside `dirFD` is ever touched). `owner` maps each entry's uid and gid.
    public static func extractTar(from fd: Int32, intoDirFD dirFD: Int32,
                                  owner: ((Int64, Int64) -> (Int64, Int64))? = nil) throws {
        do {
            _ = try LayerExtractor.extract(fd: fd, compression: .none, rootFD: dirFD, whiteouts: .plain, owner: owner)
        } catch let e as BockerError {
            throw e
        } catch {
            throw BockerError(.invalidArgument, "\(error)")
        }
    }

    /// `writeTar` on a thread into a socket pair, `extractTar` of it on this one.
    public static func copy(fromDirFD src: Int32, name: String, tarName: String, intoDirFD dst: Int32,
                            owner: ((Int64, Int64) -> (Int64, Int64))? = nil) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw BockerError.errno("cannot create a socket pair")
        }
        final class Result: @unchecked Sendable { var error: Error? }
        let result = Result()
        let writeEnd = pair[1]
        let threads = WorkerThreads.start(1) {
            do { try writeTar(dirFD: src, name: name, tarName: tarName, to: writeEnd) } catch { result.error = error }
            shutdown(writeEnd, Int32(SHUT_WR))
        }
        guard let t = threads.first else {
            close(pair[0]); close(pair[1])
            throw BockerError(.internal, "cannot start a thread")
        }
        var extractError: Error?
        do { try extractTar(from: pair[0], intoDirFD: dst, owner: owner) } catch { extractError = error }
        // The writer stops at once if the reader gave up (EPIPE, no SIGPIPE: MSG_NOSIGNAL).
        shutdown(pair[0], Int32(SHUT_RDWR))
        pthread_join(t, nil)
        close(pair[0]); close(pair[1])
        // The writer's error says why (a file it could not read); the reader's error follows from it.
        if let e = result.error, !(e is BockerError && (e as! BockerError).message == "the reader of the copy went away") { throw e }
        if let e = extractError { throw e }
    }
}

private struct Sink {
    let fd: Int32
    var errorNumber: Int32 = 0
}

private let sinkWrite: @convention(c) (UnsafeMutableRawPointer?, UnsafeRawPointer?, Int) -> Int32 = { ctx, data, len in
    let sink = ctx!.assumingMemoryBound(to: Sink.self)
    var off = 0
    while off < len {
        var n = send(sink.pointee.fd, data! + off, len - off, Int32(MSG_NOSIGNAL))
        if n < 0 && errno == ENOTSOCK { n = write(sink.pointee.fd, data! + off, len - off) }
        if n < 0 {
            if errno == EINTR { continue }
            sink.pointee.errorNumber = errno
            return -1
        }
        off += n
    }
    return 0
}
