import Testing

@Suite("init and images")
struct InitImagesTests {
    @Test("init creates an image that images lists with its source directory", arguments: allDrivers)
    func initThenImages(driver: String) throws {
        try BockerFixture.with(driver: driver) { f in
            let r = f.run(["init", f.rootfs])
            #expect(r.status == 0, "\(r)")
            let id = try #require(firstImageId(in: r.stdout), "no 'Created: img_<12 hex>' line: \(r)")
            #expect(r.stdoutLines == ["Created: \(id)"], "\(r)")

            let images = f.run(["images"])
            #expect(images.status == 0, "\(images)")
            let lines = images.stdoutLines
            let header = try #require(lines.first, "images printed nothing")
            #expect(Array(fields(header).prefix(2)) == ["IMAGE_ID", "SOURCE"], "header: \(header)")
            #expect(lines.count == 2, "expected the header and one row: \(images)")
            let line = try #require(row(id, in: images.stdout), "no row for \(id): \(images)")
            #expect(Array(fields(line).prefix(2)) == [id, f.rootfs], "row: \(line)")
            f.expectNothingLeftBehind(removed: [])
        }
    }

    @Test("two inits of the same directory give two distinct images")
    func twoImages() throws {
        try BockerFixture.with { f in
            let a = try f.initImage()
            let b = try f.initImage()
            #expect(a != b)
            let images = f.run(["images"])
            #expect(row(a, in: images.stdout) != nil, "\(images)")
            #expect(row(b, in: images.stdout) != nil, "\(images)")
            #expect(images.stdoutLines.count == 3, "\(images)")
        }
    }

    @Test("init with a relative path records the absolute directory as SOURCE")
    func relativeSourceIsAbsolute() throws {
        try BockerFixture.with { f in
            let parent = String(f.rootfs[..<f.rootfs.lastIndex(of: "/")!])
            let r = f.run(["init", "rootfs"], cwd: parent)
            #expect(r.status == 0, "\(r)")
            let id = try #require(firstImageId(in: r.stdout), "\(r)")
            let images = f.run(["images"])
            let line = try #require(row(id, in: images.stdout), "\(images)")
            #expect(fields(line).dropFirst().first == f.rootfs, "row: \(line)")
        }
    }

    @Test("init of a missing directory: one line, non-zero exit, nothing stored")
    func initMissingDirectory() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()  // the store exists, so any change would show
            let before = f.storeListing()
            let missing = f.tmp + "/no-such-dir"
            let r = f.run(["init", missing])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines == ["No directory named '\(missing)' exists"], "\(r)")
            #expect(f.storeListing() == before, "the store changed")
            let images = f.run(["images"])
            #expect(images.stdoutLines.count == 2, "\(images)")
        }
    }

    @Test("init of a regular file is refused without changing the store")
    func initOfAFile() throws {
        try BockerFixture.with { f in
            _ = try f.initImage()
            let before = f.storeListing()
            let file = try f.writeFile("plain-file", "x\n")
            let r = f.run(["init", file])
            #expect(r.status != 0, "\(r)")
            #expect(r.allLines.count == 1, "\(r)")
            #expect(f.storeListing() == before, "the store changed")
        }
    }

    @Test("images on an empty store prints only the header")
    func emptyImages() throws {
        try BockerFixture.with { f in
            let r = f.run(["images"])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdoutLines.count == 1, "\(r)")
            #expect(r.stdoutLines.first.map { fields($0).first == "IMAGE_ID" } == true, "\(r)")
        }
    }
}
