import BockerArchive
import BockerCore
import CArchive
import Glibc
import Testing

/// One hostile layer. `build` gets the sandbox base (an absolute host path outside the root) and
/// may prepare the root as lower layers would have; `check` runs on success.
struct Breakout: Sendable, CustomStringConvertible {
    enum Outcome: Sendable { case fails, succeeds, either }
    let description: String
    let outcome: Outcome
    let build: @Sendable (_ base: String, _ root: String, _ t: inout Tar) -> Void
    var check: (@Sendable (_ base: String, _ root: String) throws -> Void)? = nil
}

private func file(_ s: String) -> [UInt8] { Array(s.utf8) }

let breakouts: [Breakout] = [
    Breakout(description: "absolute path lands inside the root", outcome: .succeeds,
             build: { base, _, t in t.add(base + "/victim", content: file("pwned")) },
             check: { base, root in try check(content(root + base + "/victim") == "pwned", "not inside root") }),
    Breakout(description: "../ path", outcome: .fails,
             build: { _, _, t in t.add("../victim", content: file("pwned")) }),
    Breakout(description: "a/../../x", outcome: .fails,
             build: { _, _, t in t.add("a/", .dir); t.add("a/../../victim", content: file("pwned")) }),
    Breakout(description: "/../ absolute climb", outcome: .fails,
             build: { _, _, t in t.add("/../../../../victim", content: file("pwned")) }),
    Breakout(description: "sibling prefix root-evil", outcome: .fails,
             build: { _, _, t in t.add("../root-evil/keep", content: file("pwned")); t.add("../root-evil/new", content: file("pwned")) }),
    Breakout(description: "symlink to / then write through it", outcome: .succeeds,
             build: { base, _, t in t.add("s", .symlink, link: "/"); t.add("s" + base + "/victim", content: file("pwned")) },
             check: { base, root in
                 try check(readLink(root + "/s") == "/", "symlink stored as-is")
                 try check(content(root + base + "/victim") == "pwned", "not inside root")
             }),
    Breakout(description: "symlink to .. then write through it", outcome: .succeeds,
             build: { _, _, t in t.add("s", .symlink, link: ".."); t.add("s/victim", content: file("pwned")) },
             check: { _, root in try check(content(root + "/victim") == "pwned", "'..' not clamped at the root") }),
    Breakout(description: "two-hop chain up -> .., up/escape -> ../victimdir", outcome: .succeeds,
             build: { _, _, t in
                 t.add("up", .symlink, link: "..")
                 t.add("up/escape", .symlink, link: "../victimdir")
                 t.add("escape/file", content: file("pwned"))
                 t.add("up/escape/new", content: file("pwned"))
             },
             check: { _, root in
                 try check(readLink(root + "/escape") == "../victimdir", "escape link")
                 try check(content(root + "/victimdir/file") == "pwned" && content(root + "/victimdir/new") == "pwned", "not inside")
             }),
    Breakout(description: "symlink as parent d -> host dir, then d/x", outcome: .succeeds,
             build: { base, _, t in t.add("d", .symlink, link: base + "/victimdir"); t.add("d/file", content: file("pwned")); t.add("d/new", content: file("pwned")) },
             check: { base, root in try check(content(root + base + "/victimdir/file") == "pwned", "not inside") }),
    Breakout(description: "absolute symlink resolved inside the root", outcome: .succeeds,
             build: { _, _, t in
                 t.add("etc/", .dir)
                 t.add("link", .symlink, link: "/etc")
                 t.add("link/passwd", content: file("root:x:0:0::/:/bin/sh\n"))
             },
             check: { _, root in
                 try check(content(root + "/etc/passwd") == "root:x:0:0::/:/bin/sh\n", "not written inside the root")
             }),
    Breakout(description: "hardlink to absolute /etc/passwd with no such file in the root", outcome: .fails,
             build: { _, _, t in t.add("pw", .hardlink, link: "/etc/passwd") }),
    Breakout(description: "hardlink to absolute host path of the victim", outcome: .fails,
             build: { base, _, t in t.add("pw", .hardlink, link: base + "/victim") }),
    Breakout(description: "hardlink to absolute path resolves inside the root", outcome: .succeeds,
             build: { _, _, t in t.add("etc/", .dir); t.add("etc/passwd", content: file("inner")); t.add("pw", .hardlink, link: "/etc/passwd") },
             check: { _, root in try check(lstatOf(root + "/pw")?.st_ino == lstatOf(root + "/etc/passwd")?.st_ino, "not linked inside") }),
    Breakout(description: "hardlink with ../", outcome: .fails,
             build: { _, _, t in t.add("pw", .hardlink, link: "../victim") }),
    Breakout(description: "hardlink to a symlink pointing out, then chmod (CVE-2021-32760)", outcome: .succeeds,
             build: { base, _, t in
                 t.add("lnk", .symlink, link: base + "/victim")
                 t.add("hl", .hardlink, mode: 0o777, link: "lnk")
                 t.add("rel", .symlink, link: "../victim")
                 t.add("hl2", .hardlink, mode: 0o4777, uid: 1234, link: "rel")
             },
             check: { base, root in
                 try check(readLink(root + "/hl") == base + "/victim", "hl is not the symlink itself")
                 try check(readLink(root + "/hl2") == "../victim", "hl2 is not the symlink itself")
             }),
    Breakout(description: "hardlink through a symlinked parent that points out", outcome: .either,
             build: { base, _, t in
                 t.add("d", .symlink, link: base + "/victimdir")
                 t.add("pw", .hardlink, link: "d/file")
                 t.add("d2", .symlink, link: "../victimdir")
                 t.add("pw2", .hardlink, link: "d2/file")
             }),
    Breakout(description: "directory over symlink", outcome: .succeeds,
             build: { base, _, t in
                 t.add("d", .symlink, link: base + "/victimdir")
                 t.add("d/", .dir, mode: 0o700)
                 t.add("d/file", content: file("pwned"))
             },
             check: { _, root in
                 try check(isType(root + "/d", S_IFDIR), "d is not a directory")
                 try check(content(root + "/d/file") == "pwned", "file not inside")
             }),
    Breakout(description: "symlink over directory", outcome: .succeeds,
             build: { base, _, t in
                 t.add("d/", .dir)
                 t.add("d/inner", content: file("x"))
                 t.add("d", .symlink, link: base + "/victimdir")
                 t.add("d/file", content: file("pwned"))
             },
             check: { base, root in
                 try check(readLink(root + "/d") == base + "/victimdir", "d is not the symlink")
                 try check(content(root + base + "/victimdir/file") == "pwned", "not inside")
             }),
    Breakout(description: "file over symlink to outside replaces the link", outcome: .succeeds,
             build: { base, _, t in
                 t.add("f", .symlink, link: base + "/victim")
                 t.add("f", mode: 0o777, content: file("pwned"))
                 t.add("g", .symlink, link: "../victim")
                 t.add("g", mode: 0o777, content: file("pwned"))
             },
             check: { _, root in
                 try check(isType(root + "/f", S_IFREG) && content(root + "/f") == "pwned", "f")
                 try check(isType(root + "/g", S_IFREG) && content(root + "/g") == "pwned", "g")
             }),
    Breakout(description: "file over pre-existing symlink to outside (lower layer)", outcome: .succeeds,
             build: { base, root, t in
                 symlink(base + "/victim", root + "/f")
                 symlink(base + "/victimdir", root + "/d")
                 t.add("f", mode: 0o4777, uid: 99, content: file("pwned"))
                 t.add("d", .dir, mode: 0o777)
             },
             check: { _, root in try check(isType(root + "/f", S_IFREG) && isType(root + "/d", S_IFDIR), "not replaced") }),
    Breakout(description: "whiteout .wh..", outcome: .fails,
             build: { _, _, t in t.add("sub/", .dir); t.add("sub/.wh..") }),
    Breakout(description: "whiteout .wh...", outcome: .fails,
             build: { _, _, t in t.add("sub/", .dir); t.add("sub/.wh...") }),
    Breakout(description: "whiteout .wh. alone", outcome: .fails,
             build: { _, _, t in t.add(".wh.") }),
    Breakout(description: "whiteout whose parent escapes", outcome: .fails,
             build: { _, _, t in t.add("../.wh.victim") }),
    Breakout(description: "whiteout through a symlinked parent", outcome: .either,
             build: { base, root, t in
                 symlink(base + "/victimdir", root + "/s")
                 symlink("../victimdir", root + "/r")
                 t.add("s/.wh.file")
                 t.add("r/.wh.file")
             }),
    Breakout(description: "whiteout of a symlink removes only the link", outcome: .succeeds,
             build: { base, root, t in
                 symlink(base + "/victimdir", root + "/ld")
                 symlink(base + "/victim", root + "/lf")
                 t.add(".wh.ld")
                 t.add(".wh.lf")
             },
             check: { _, root in
                 // apply: gone; overlay: replaced by a whiteout device (the pre-existing link is this layer's).
                 try check(lstatOf(root + "/ld") == nil || isType(root + "/ld", S_IFLNK), "ld")
             }),
    Breakout(description: "opaque whiteout in a symlinked directory", outcome: .either,
             build: { base, root, t in
                 symlink(base + "/victimdir", root + "/sd")
                 symlink("..", root + "/up")
                 t.add("sd/.wh..wh..opq")
                 t.add("up/.wh..wh..opq")
             }),
    Breakout(description: "device node via ../", outcome: .fails,
             build: { _, _, t in t.add("../dev-evil", .char, dev: (1, 3)) }),
    Breakout(description: "device node through a symlink out", outcome: .succeeds,
             build: { base, _, t in t.add("s", .symlink, link: base); t.add("s/dev-evil", .char, dev: (1, 3)) },
             check: { base, root in try check(isType(root + base + "/dev-evil", S_IFCHR), "not inside") }),
    Breakout(description: "entry named with a NUL", outcome: .fails,
             build: { _, _, t in t.add("", content: file("pwned"), rawName: [0] + file("../victim")) }),
    Breakout(description: "NUL hiding a climb", outcome: .either,
             build: { _, _, t in t.add("", content: file("pwned"), rawName: file("a") + [0] + file("/../../victim")) }),
    Breakout(description: "empty name", outcome: .fails,
             build: { _, _, t in t.add("", content: file("pwned")) }),
    Breakout(description: "name that cleans to nothing", outcome: .fails,
             build: { _, _, t in t.add("./", content: file("pwned")) }),
    Breakout(description: "component longer than NAME_MAX", outcome: .fails,
             build: { _, _, t in t.add(String(repeating: "x", count: 300), content: file("pwned")) }),
    Breakout(description: "path longer than PATH_MAX", outcome: .either,
             build: { _, _, t in t.add(String(repeating: "abcdefghi/", count: 500) + "f", content: file("pwned")) }),
    Breakout(description: "symlink loop as parent", outcome: .fails,
             build: { _, _, t in t.add("a", .symlink, link: "b"); t.add("b", .symlink, link: "a"); t.add("a/x", content: file("pwned")) }),
    Breakout(description: "symlink chain out through an intermediate directory", outcome: .succeeds,
             build: { base, _, t in
                 t.add("x/", .dir)
                 t.add("x/y", .symlink, link: "../../../../../../" + base)
                 t.add("x/y/victim", content: file("pwned"))
                 t.add("x/y/victimdir/file", content: file("pwned"))
             },
             check: { base, root in try check(content(root + base + "/victim") == "pwned", "not inside") }),
]

@Suite("Layer extraction never touches anything outside the root")
struct BreakoutTests {
    static let modes: [WhiteoutMode] = [.overlay, .apply]

    @Test(arguments: breakouts, [false, true])
    func hostileLayer(_ b: Breakout, componentWalk: Bool) throws {
        try withSandbox { s in
            for mode in Self.modes {
                FS.list(s.root).forEach { try? FS.removeTree(s.root + "/" + $0) }
                var t = Tar()
                b.build(s.base, s.root, &t)
                t.finish()
                let before = s.outside()
                let passwd = describe("/etc/passwd")
                if componentWalk { bk_force_component_walk(1) }
                defer { if componentWalk { bk_force_component_walk(0) } }
                var failure: Error?
                do { try s.extract(t, .gzip, mode: mode) } catch { failure = error }
                #expect(s.outside() == before, "\(b) (\(mode)) changed something outside the root")
                #expect(describe("/etc/passwd") == passwd)
                switch b.outcome {
                case .fails:
                    #expect(failure is BockerError, "\(b) (\(mode)) should fail, got \(String(describing: failure))")
                case .succeeds:
                    #expect(failure == nil, "\(b) (\(mode)): \(String(describing: failure))")
                    if failure == nil, let check = b.check { try check(s.base, s.root) }
                case .either:
                    if let f = failure { #expect(f is BockerError) }
                }
            }
        }
    }

    @Test func atLeastTwentyHostileLayers() { #expect(breakouts.count >= 20) }
}
