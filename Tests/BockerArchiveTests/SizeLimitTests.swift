import BockerArchive
import BockerCore
import Glibc
import Testing

/// A layer's uncompressed size is bounded: a gzip/zstd bomb stops at the limit, before the rest
/// reaches the disk, with `LayerTooLarge`.
@Suite("Layer size limit")
struct SizeLimitTests {
    /// 32 MiB of zeros in one file (a few tens of KiB compressed), then a marker file.
    static func bomb() -> Tar {
        var t = Tar()
        t.add("zeros", content: [UInt8](repeating: 0, count: 32 << 20))
        t.add("after", content: Array("after\n".utf8))
        t.finish()
        return t
    }

    @Test(arguments: [LayerCompression.none, .gzip, .zstd])
    func bombStopsAtTheLimit(_ compression: LayerCompression) throws {
        try withSandbox { s in
            let blob = s.top + "/bomb.blob"
            try writeBlob(Self.bomb().bytes, to: blob, compression)
            let limit: UInt64 = 4 << 20
            #expect(throws: LayerTooLarge(limit: limit)) {
                try LayerExtractor.extract(blob: blob, compression: compression, into: s.root, whiteouts: .overlay, maxBytes: limit)
            }
            // No more than the limit (plus one read buffer) was written.
            var zst = stat()
            if lstat(s.root + "/zeros", &zst) == 0 {
                #expect(UInt64(zst.st_blocks) * 512 <= limit + (1 << 20) * 2, "\(zst.st_blocks) blocks written")
            }
            #expect(lstatOf(s.root + "/after") == nil)
        }
    }

    @Test func underTheLimitIsFine() throws {
        try withSandbox { s in
            let tar = Self.bomb()
            let blob = s.top + "/ok.blob"
            try writeBlob(tar.bytes, to: blob, .gzip)
            let r = try LayerExtractor.extract(blob: blob, compression: .gzip, into: s.root, whiteouts: .overlay,
                                               maxBytes: UInt64(tar.bytes.count))
            #expect(r.bytes == tar.bytes.count)
            #expect(content(s.root + "/after") == "after\n")
        }
    }

    @Test func byteSizes() {
        #expect(ByteSize.parse("10g") == 10 << 30)
        #expect(ByteSize.parse("16M") == 16 << 20)
        #expect(ByteSize.parse("16mb") == 16 << 20)
        #expect(ByteSize.parse("3k") == 3072)
        #expect(ByteSize.parse("512b") == 512)
        #expect(ByteSize.parse("1000") == 1000)
        for bad in ["", "m", "-1", "1.5g", "10x", "99999999999999999999", "9999999999g"] {
            #expect(ByteSize.parse(bad) == nil, "\(bad)")
        }
        #expect(ByteSize.format(10 << 30) == "10g")
        #expect(ByteSize.format(3 << 20) == "3m")
        #expect(ByteSize.format(1000) == "1000")
    }
}
