import Testing
import Glibc
@testable import BockerLua
import BockerCore

/// `bocker.dockerignore` (scripts/lib/bocker/dockerignore.lua) and `bocker.fs.list`: which
/// files of a build context are sent, by moby/patternmatcher's rules (its test table) and
/// BuildKit's context walk, on real directories.
@Suite("dockerignore")
struct DockerignoreTests {
    func eval(_ f: HostFixture? = nil, _ code: String) throws -> (ok: Bool, value: String) {
        try (f ?? HostFixture()).eval("local di = require 'bocker.dockerignore'\n" + code)
    }

    // moby/patternmatcher's TestMatches table (a path given with a trailing / is cleaned first,
    // as a context path always is).
    @Test("one pattern", arguments: [
        ("**", "file", true), ("**", "file/", true), ("**/", "file", true), ("**/", "file/", true),
        ("**", "dir/file", true), ("**/", "dir/file", true), ("**", "dir/file/", true), ("**/", "dir/file/", true),
        ("**/**", "dir/file", true), ("**/**", "dir/file/", true), ("dir/**", "dir/file", true), ("dir/**", "dir/file/", true),
        ("dir/**", "dir/dir2/file", true), ("dir/**", "dir/dir2/file/", true), ("**/dir", "dir", true), ("**/dir", "dir/file", true),
        ("**/dir2/*", "dir/dir2/file", true), ("**/dir2/*", "dir/dir2/file/", true), ("**/dir2/**", "dir/dir2/dir3/file", true),
        ("**/dir2/**", "dir/dir2/dir3/file/", true), ("**file", "file", true), ("**file", "dir/file", true),
        ("**/file", "dir/file", true), ("**file", "dir/dir/file", true), ("**/file", "dir/dir/file", true),
        ("**/file*", "dir/dir/file", true), ("**/file*", "dir/dir/file.txt", true), ("**/file*txt", "dir/dir/file.txt", true),
        ("**/file*.txt", "dir/dir/file.txt", true), ("**/file*.txt*", "dir/dir/file.txt", true),
        ("**/**/*.txt", "dir/dir/file.txt", true), ("**/**/*.txt2", "dir/dir/file.txt", false),
        ("**/*.txt", "file.txt", true), ("**/**/*.txt", "file.txt", true), ("a**/*.txt", "a/file.txt", true),
        ("a**/*.txt", "a/dir/file.txt", true), ("a**/*.txt", "a/dir/dir/file.txt", true), ("a/*.txt", "a/dir/file.txt", false),
        ("a/*.txt", "a/file.txt", true), ("a/*.txt**", "a/file.txt", true), ("a[b-d]e", "ae", false), ("a[b-d]e", "ace", true),
        ("a[b-d]e", "aae", false), ("a[^b-d]e", "aze", true), (".*", ".foo", true), (".*", "foo", false),
        ("abc.def", "abcdef", false), ("abc.def", "abc.def", true), ("abc.def", "abcZdef", false), ("abc?def", "abcZdef", true),
        ("abc?def", "abcdef", false), (#"a\\"#, #"a\"#, true), ("**/foo/bar", "foo/bar", true), ("**/foo/bar", "dir/foo/bar", true),
        ("**/foo/bar", "dir/dir2/foo/bar", true), ("abc/**", "abc", false), ("abc/**", "abc/def", true), ("abc/**", "abc/def/ghi", true),
        ("**/.foo", ".foo", true), ("**/.foo", "bar.foo", false), ("a(b)c/def", "a(b)c/def", true), ("a(b)c/def", "a(b)c/xyz", false),
        ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
        ("dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true),
        ("dist/*.whl", "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", true), (#"a\*b"#, "a*b", true),
        ("*", "fileutils.go", true), ("*.go", "fileutils.go", true), ("*.go", ".", false), ("*", "a/b", true),
        ("[é]x", "éx", true), ("?x", "éx", true), ("[^a]x", "éx", true), ("[a-c]*/?", "b1/z", true), ("[a-c]*/?", "d1/z", false),
        ("docs", "docs/sub/README.md", true), ("/docs/", "docs/a", true), ("./docs", "docs/a", true), ("docs/../src", "src/x", true),
        ("*/temp*", "somedir/temporary.txt", true), ("*/*/temp*", "somedir/subdir/temporary.txt", true), ("temp?", "temp.txt", false),
    ])
    func onePattern(pattern: String, path: String, excluded: Bool) throws {
        let r = try eval(nil, "return tostring(di.new({ [==[\(pattern)]==] }):excluded([==[\(path)]==]))")
        #expect(r.value == "\(excluded)", "\(pattern) vs \(path)")
    }

    @Test("exceptions: the last matching line wins, a directory's exclusion covers what it holds", arguments: [
        (["**", "!util/docker/web"], "util/docker/web/foo", false),
        (["**", "!util/docker/web", "util/docker/web/foo"], "util/docker/web/foo", true),
        (["**", "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
        (["**", "!dist/*.whl"], "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl", false),
        (["!fileutils.go", "*.go"], "fileutils.go", true),
        (["docs", "!docs/README.md"], "docs/README.md", false),
        (["docs/", "!docs/README.md"], "docs/README.md", false),
        (["docs/*", "!docs/README.md"], "docs/README.md", false),
        (["*.go", "!fileutils.go"], "fileutils.go", false),
        (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", true),
        (["*.md", "!README*.md", "README-secret.md"], "README-public.md", false),
        (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", false),
        (["node_modules", "!node_modules/keep"], "node_modules/keep/x.js", false),
        (["node_modules", "!node_modules/keep"], "node_modules/other/x.js", true),
    ])
    func exceptions(patterns: [String], path: String, excluded: Bool) throws {
        let list = patterns.map { "[==[\($0)]==]" }.joined(separator: ", ")
        let r = try eval(nil, "return tostring(di.new({ \(list) }):excluded([==[\(path)]==]))")
        #expect(r.value == "\(excluded)", "\(patterns) vs \(path)")
    }

    @Test("reading .dockerignore: comments, blank lines, BOM, cleaning, leading / and ./ dropped")
    func parsing() throws {
        let r = try eval(nil, #"""
            local m = di.parse("\239\187\191# comment\n\n  /foo/../bar/  \n!./bar/keep\n! spaced\n  # not a comment\n*.md\r\nsrc//x/./y\n/\n")
            return table.concat(m.lines, "|")
            """#)
        #expect(r.value == "bar|!bar/keep|!spaced|# not a comment|*.md|src/x/y|/")
    }

    @Test("bad patterns are one line naming the file and line", arguments: [
        ("a\n[\n", ".dockerignore:2: syntax error in pattern"),
        ("!\n", ".dockerignore:1: illegal exclusion pattern: \"!\""),
        ("x\ny\nfoo\\\n", ".dockerignore:3: syntax error in pattern"),
        ("[]\n", ".dockerignore:1: syntax error in pattern"),
        ("[a-\n", ".dockerignore:1: syntax error in pattern"),
    ])
    func badPatterns(text: String, message: String) throws {
        let r = try eval(nil, "local ok, e = pcall(di.parse, [==[\(text)]==]) return ok and 'no error' or e")
        #expect(r.value == message)
    }

    /// A context on disk: files, directories, a symlink to a directory, an empty directory.
    func makeContext(_ f: HostFixture) throws -> String {
        let ctx = f.dir + "/ctx"
        for path in ["Dockerfile", "README.md", "docs/README.md", "docs/guide.md", "src/main.go", "src/util/x.go",
                     "src/util/x_test.go", "node_modules/a/index.js", "node_modules/keep/k.js", ".git/HEAD", "tmp/t.log"] {
            try f.write(ctx + "/" + path, path)
        }
        try FS.makeDirectories(ctx + "/empty")
        #expect(symlink("/etc", ctx + "/etclink") == 0)
        #expect(symlink("src", ctx + "/srclink") == 0)
        return ctx
    }

    @Test("bocker.fs.list: names sorted, types from lstat, symlinks not followed, a missing directory is an error")
    func fsList() throws {
        let f = try HostFixture()
        let ctx = try makeContext(f)
        let r = try eval(f, """
            local t = {}
            for _, e in ipairs(bocker.fs.list([==[\(ctx)]==])) do t[#t + 1] = e.name .. ":" .. e.type end
            local ok, err = pcall(bocker.fs.list, [==[\(ctx)/nope]==])
            return table.concat(t, " ") .. "|" .. tostring(ok) .. "|" .. err.message
            """)
        #expect(r.value == ".git:dir Dockerfile:file README.md:file docs:dir empty:dir etclink:link node_modules:dir src:dir srclink:link tmp:dir|false|bocker.fs.list: cannot read '\(ctx)/nope': No such file or directory", "\(r)")
    }

    @Test("walk: what a build sends, excluded directories pruned, exceptions re-include below them")
    func walk() throws {
        let f = try HostFixture()
        let ctx = try makeContext(f)
        try f.write(ctx + "/.dockerignore", """
            # VCS and dependencies
            .git
            node_modules
            !node_modules/keep
            **/*_test.go
            *.md
            !README.md
            tmp/
            """)
        let r = try eval(f, """
            local m = di.load([==[\(ctx)]==])
            local paths, types = m:walk([==[\(ctx)]==])
            local t = {}
            for _, p in ipairs(paths) do t[#t + 1] = p .. (types[p] == "file" and "" or (":" .. types[p])) end
            return table.concat(t, " ")
            """)
        #expect(r.value == ".dockerignore Dockerfile README.md docs:dir docs/README.md docs/guide.md empty:dir etclink:link node_modules:dir node_modules/keep:dir node_modules/keep/k.js src:dir src/main.go src/util:dir src/util/x.go srclink:link", "\(r)")
    }

    @Test("load: <Dockerfile>.dockerignore beside a -f Dockerfile wins; no file excludes nothing")
    func load() throws {
        let f = try HostFixture()
        let ctx = try makeContext(f)
        try f.write(ctx + "/.dockerignore", "src\n")
        try f.write(f.dir + "/elsewhere/app.Dockerfile", "FROM scratch\n")
        try f.write(f.dir + "/elsewhere/app.Dockerfile.dockerignore", "docs\n")
        let r = try eval(f, """
            local a = di.load([==[\(ctx)]==], [==[\(f.dir)/elsewhere/app.Dockerfile]==])
            local b = di.load([==[\(ctx)]==], [==[\(f.dir)/elsewhere/other.Dockerfile]==])
            local c = di.load([==[\(f.dir)/elsewhere]==])
            return table.concat({ tostring(a:excluded("docs/x")), tostring(a:excluded("src/x")),
              tostring(b:excluded("src/x")), tostring(c:excluded("anything")), #c:walk([==[\(f.dir)/elsewhere]==]) }, " ")
            """)
        #expect(r.value == "true false true false 2", "\(r)")
    }

    @Test("matching paths against 10 patterns is linear work in the number of paths (VM instructions, not a clock)")
    func linear() throws {
        // Counted in VM instructions (debug.sethook's count hook): a loaded machine cannot change
        // it. 20,000 paths must cost about twice 10,000; speed itself is for benchmarks.
        let r = try eval(nil, #"""
            local m = di.new({ ".git", "node_modules", "!node_modules/keep", "**/*_test.go", "*.md", "!README.md",
              "build/**", "[a-c]*/tmp?", "**/cache/**", "docs/*.pdf" })
            local function cost(paths)
              local count, n = 0, 0
              debug.sethook(function() count = count + 1 end, "", 1000)
              for i = 1, paths do
                if m:excluded("src/pkg" .. (i % 50) .. "/file" .. i .. (i % 3 == 0 and "_test.go" or ".go")) then n = n + 1 end
              end
              debug.sethook()
              return count, n
            end
            local small = cost(10000)
            local big, n = cost(20000)
            local ratio = big / small
            return n .. " " .. (ratio < 2.5 and "linear" or ("ratio " .. ratio))
            """#)
        #expect(r.value == "6666 linear", "\(r)")
    }
}
