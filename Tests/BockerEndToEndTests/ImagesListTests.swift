import Glibc
import Testing

/// `bocker images` as Docker lists them: a row per name in every format, and a REPOSITORY[:TAG]
/// argument.
@Suite("images: a row per name, REPOSITORY[:TAG]")
struct ImagesListTests {
    @Test("--format and json give one row per name with its Repository and Tag; images REPO and REPO:TAG pick rows; the seed's table stays")
    func rowPerName() throws {
        try BockerFixture.with { f in
            let img = try f.initImage()
            for name in ["busybox:1", "busybox:2", "reg.example:5000/me/app:7"] {
                let r = f.run(["tag", img, name])
                #expect(r.status == 0, "\(r)")
            }
            let other = try f.initImage()
            #expect(f.run(["tag", other, "tools:1"]).status == 0)

            let rows = f.run(["images", "--format", "{{.Repository}}|{{.Tag}}|{{.ID}}"])
            #expect(rows.status == 0, "\(rows)")
            let named = Set(rows.stdoutLines.filter { !$0.hasPrefix("/") })
            #expect(named == ["busybox|1|\(img)", "busybox|2|\(img)", "reg.example:5000/me/app|7|\(img)", "tools|1|\(other)"],
                    "\(rows)")

            let json = f.run(["images", "--format", "json", "busybox"])
            #expect(json.status == 0, "\(json)")
            #expect(json.stdoutLines.count == 2, "\(json)")
            for line in json.stdoutLines {
                #expect(line.contains(#""Repository":"busybox""#) && line.contains(#""ID":"\#(img)""#), "\(line)")
            }

            // The seed's columns; the argument keeps the rows of that repository (or that tag).
            let table = f.run(["images", "busybox"])
            #expect(table.stdoutLines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["IMAGE_ID", "SOURCE", "CREATED"])
            #expect(table.stdoutLines.dropFirst().map { String($0.split(separator: " ")[1]) } == ["busybox:1", "busybox:2"], "\(table)")
            let one = f.run(["images", "busybox:2"])
            #expect(one.stdoutLines.dropFirst().map { String($0.split(separator: " ")[1]) } == ["busybox:2"], "\(one)")
            #expect(f.run(["images", "-q", "reg.example:5000/me/app"]).stdoutLines == [img])
            #expect(f.run(["images", "-q", "nothing-here"]).stdoutLines == [])
            let two = f.run(["images", "a", "b"])
            #expect(two.status != 0 && two.stderr.contains("usage: bocker images"), "\(two)")
        }
    }
}
