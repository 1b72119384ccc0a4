import Testing
import Glibc
@testable import BockerCore
@testable import BockerStore

/// A store in a temp directory (copy driver), removed after the body.
private func withStore(_ body: (Store) throws -> Void) throws {
    var template = Array("/tmp/bocker-names-XXXXXX".utf8CString)
    let dir = String(cString: mkdtemp(&template)!)
    defer { try? FS.removeTree(dir) }
    let store = try Store(root: StateRoot(path: dir), requestedDriver: "copy")
    try body(store)
}

private func newImage(_ s: Store, _ source: String) throws -> ImageRecord {
    try s.withLock { try s.saveNewImage(source: source, layers: [], config: ImageConfig()) }
}

@Suite("Image names and references")
struct ImageNamesTests {
    @Test(arguments: [("docker.io/library/alpine:3", "alpine:3"), ("docker.io/user/app", "user/app"),
                      ("index.docker.io/library/x", "x"), ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000/a/b:1"), ("myapp:1", "myapp:1")])
    func familiarNames(_ input: String, _ want: String) { #expect(Store.familiarName(input) == want) }

    @Test(arguments: [("app:1", "app"), ("127.0.0.1:5000/a/b:1", "127.0.0.1:5000/a/b"), ("127.0.0.1:5000/a", "127.0.0.1:5000/a"),
                      ("a@sha256:00", "a"), ("a:1@sha256:00", "a"), ("/some/dir", "/some/dir")])
    func repositories(_ name: String, _ want: String) { #expect(Store.repository(of: name) == want) }

    @Test func referencesFindImagesByIdPrefixNameAndDigest() throws {
        try withStore { s in
            var a = try newImage(s, "/src/dir")
            a.digest = "sha256:" + String(repeating: "1", count: 64)
            a.tags = ["myapp:1", "127.0.0.1:5000/x/y:latest"]
            try s.replaceImage(a)
            #expect(try s.resolveImage(a.id).name == nil)
            #expect(try s.resolveImage(String(a.id.prefix(7))).image.id == a.id)
            #expect(try s.resolveImage(String(a.id.dropFirst(4).prefix(5))).image.id == a.id)
            #expect(try s.resolveImage("myapp:1").name == "myapp:1")
            #expect(try s.resolveImage("docker.io/library/myapp:1").name == "myapp:1")
            #expect(try s.resolveImage("127.0.0.1:5000/x/y").name == "127.0.0.1:5000/x/y:latest")
            #expect(try s.resolveImage("/src/dir").name == "/src/dir")
            let byDigest = try s.resolveImage("myapp@" + a.digest!)
            #expect(byDigest.image.id == a.id && byDigest.name == nil)
            #expect(throws: BockerError.self) { try s.resolveImage("myapp:2") }
            #expect(throws: BockerError.self) { try s.resolveImage("other@" + a.digest!) }
        }
    }

    @Test func anAmbiguousPrefixIsRefused() throws {
        try withStore { s in
            var ids: [String] = []
            for _ in 0..<40 { ids.append(try newImage(s, "/d").id) }
            let e = #expect(throws: BockerError.self) { try s.resolveImage("img_") }
            #expect(e?.message.contains("several image ids") == true)
        }
    }

    @Test func aNameBelongsToOneImageAtATime() throws {
        try withStore { s in
            let a = try newImage(s, "app:1"), b = try newImage(s, "/dir")
            try s.withLock { try s.claimName("app:1", for: b.id) }
            let a2 = try s.image(a.id), b2 = try s.image(b.id)
            #expect(a2.names.isEmpty && a2.source == "<none>")
            #expect(b2.names == ["/dir", "app:1"])
            // A nameless image takes its first new name as its source.
            try s.withLock { try s.claimName("again:2", for: a.id) }
            #expect(try s.image(a.id).source == "again:2")
            #expect(try s.image(a.id).tags == nil)
            // Dropping the source promotes the next name.
            var c = try s.image(b.id)
            s.dropName("/dir", from: &c)
            #expect(c.source == "app:1" && c.tags == nil)
            #expect(throws: BockerError.self) { try s.resolveImage("<none>") }
        }
    }

    @Test func blobsAreContentAddressedAndCollected() throws {
        try withStore { s in
            let d = try s.putBlob(Array("hello".utf8))
            #expect(d == "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")
            #expect(try s.readBlob(d) == Array("hello".utf8))
            #expect(throws: BockerError.self) { try s.putBlob(Array("x".utf8), expected: d) }
            #expect(throws: BockerError.self) { try s.blobPath("sha256:../../etc/passwd") }
            var img = try newImage(s, "/k")
            img.manifest = d
            try s.replaceImage(img)
            let orphan = try s.putBlob(Array("orphan".utf8))
            try s.withLock { s.collectBlobs() }
            #expect(s.hasBlob(d) && !s.hasBlob(orphan))
            try s.withLock { try s.removeImage(img.id, layersInUse: []) }
            #expect(!s.hasBlob(d))
        }
    }
}
