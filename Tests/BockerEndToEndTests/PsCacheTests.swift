import Glibc
import Testing

/// `ps` lists summaries read through the store's cache (`<root>/cache/containers`): its output
/// must stay byte-identical to the seed's `ps` over the full records, and a stale or damaged
/// cache must never show.
@Suite("ps through the summary cache")
struct PsCacheTests {
    /// The seed's `ps`, verbatim (its cli helpers and rows), over full Container objects
    /// (`bocker.container.list()`): `bocker script oracle.lua table` prints the seed's table,
    /// `… format FORMAT` the seed's --format lines, `… fields` compares every summary field with
    /// the full record's and prints "ok N" or the differences.
    static let oracle = #"""
    local template = require "bocker.template"
    local function duration(seconds)
      local s = math.floor(seconds + 0.5)
      local function plural(n, unit) return ("%d %s%s"):format(n, unit, n == 1 and "" or "s") end
      if s < 1 then return "Less than a second"
      elseif s == 1 then return "1 second"
      elseif s < 60 then return plural(s, "second")
      end
      local m = math.floor(s / 60 + 0.5)
      if m == 1 then return "About a minute"
      elseif m < 60 then return plural(m, "minute")
      end
      local h = math.floor(s / 3600 + 0.5)
      if h == 1 then return "About an hour"
      elseif h < 48 then return plural(h, "hour")
      elseif h < 24 * 7 * 2 then return plural(math.floor(h / 24), "day")
      elseif h < 24 * 30 * 2 then return plural(math.floor(h / 24 / 7), "week")
      elseif h < 24 * 365 * 2 then return plural(math.floor(h / 24 / 30), "month")
      end
      return plural(math.floor(h / 24 / 365), "year")
    end
    local function ago(t) return duration(bocker.now() - t) .. " ago" end
    local function status(c)
      local st = c.status
      if st == "running" then
        return "Up " .. duration(bocker.now() - (c.started_at or c.created)) .. (c.paused and " (Paused)" or "")
      elseif st == "exited" then
        local when = c.finished_at and (" " .. ago(c.finished_at)) or ""
        return ("Exited (%d)%s"):format(c.exit_code or 0, when)
      elseif st == "created" then
        return "Created"
      end
      return st:sub(1, 1):upper() .. st:sub(2)
    end
    local function docker_status(c)
      local s = status(c)
      local h = c.status == "running" and c.health
      if h == "starting" then return s .. " (health: starting)" end
      if h then return s .. " (" .. h .. ")" end
      return s
    end
    local function tbl(headers, rows)
      local widths = {}
      for i, h in ipairs(headers) do widths[i] = #h end
      for _, r in ipairs(rows) do
        for i, v in ipairs(r) do widths[i] = math.max(widths[i] or 0, #tostring(v)) end
      end
      local out = {}
      local function line(r)
        local cells = {}
        for i, v in ipairs(r) do
          cells[i] = i < #r and (tostring(v) .. string.rep(" ", widths[i] - #tostring(v))) or tostring(v)
        end
        out[#out + 1] = table.concat(cells, "   ")
      end
      line(headers)
      for _, r in ipairs(rows) do line(r) end
      io.write(table.concat(out, "\n"), "\n")
    end
    local function join(argv)
      local parts = {}
      for i, a in ipairs(argv) do
        if a == "" or a:find("[%s'\"\\$`;&|<>()*?~#{}%[%]]") then
          parts[i] = "'" .. a:gsub("'", "'\\''") .. "'"
        else
          parts[i] = a
        end
      end
      return table.concat(parts, " ")
    end
    local function row_object(c, ports)
      local labels = {}
      for k, v in pairs(c.labels) do labels[#labels + 1] = k .. "=" .. v end
      table.sort(labels)
      local mounts = {}
      for _, m in ipairs(c.mounts) do mounts[#mounts + 1] = m.type == "volume" and m.source or m.destination end
      return {
        ID = c.id, Names = c.name or "", Image = c.image_source, Command = join(c.command),
        CreatedAt = os.date("!%Y-%m-%d %H:%M:%S +0000 UTC", math.floor(c.created)),
        RunningFor = ago(c.created), State = c.paused and "paused" or c.status, Status = docker_status(c), Ports = ports,
        Labels = table.concat(labels, ","), Mounts = table.concat(mounts, ","),
        Networks = c.network_mode or "bridge",
      }
    end

    local mode = arg[1]
    if mode == "fields" then
      local function same(a, b)
        if type(a) ~= "table" or type(b) ~= "table" then return a == b end
        for k, v in pairs(a) do if not same(v, b[k]) then return false end end
        for k in pairs(b) do if a[k] == nil then return false end end
        return true
      end
      local fields = { "id", "name", "image", "image_source", "command", "created", "status", "paused", "exit_code",
                       "pid", "started_at", "finished_at", "network_mode", "ports", "labels", "mounts",
                       -- not in the summary: read from the full record on first use
                       "health", "env", "hostname", "restart_policy" }
      local s, l = bocker.container.summaries(), bocker.container.list()
      local bad = 0
      if #s ~= #l then print(("count: %d summaries, %d records"):format(#s, #l)); bad = 1 end
      for i = 1, math.min(#s, #l) do
        for _, f in ipairs(fields) do
          if not same(s[i][f], l[i][f]) then
            print(("%s %s: summary %s, record %s"):format(l[i].id, f, bocker.json(s[i][f]), bocker.json(l[i][f])))
            bad = bad + 1
          end
        end
        if tostring(s[i]) ~= tostring(l[i]) then print("tostring " .. tostring(s[i])); bad = bad + 1 end
      end
      if bad == 0 then print("ok " .. #s) end
      return
    end
    local rows, objects = {}, {}
    for _, c in ipairs(bocker.container.list()) do
      local ports = c.status == "running" and table.concat(c.ports, ", ") or ""
      if mode == "format" then objects[#objects + 1] = row_object(c, ports)
      else rows[#rows + 1] = { c.id, join(c.command), c.image_source, ago(c.created), status(c), ports, c.name or "" } end
    end
    if mode == "format" then
      local lines = template.format_list(arg[2], objects)
      if #lines > 0 then io.write(table.concat(lines, "\n"), "\n") end
    else
      tbl({ "CONTAINER_ID", "COMMAND", "IMAGE", "CREATED", "STATUS", "PORTS", "NAMES" }, rows)
    end
    """#

    /// The bytes of a file (the cache is binary), nil when it cannot be read.
    static func readBytes(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = [], buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return n == 0 ? out : nil }
            out += buf[0..<n]
        }
    }

    /// Replaces a file's content in place (same inode: O_TRUNC, no rename).
    static func writeBytes(_ path: String, _ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { Issue.record("cannot write \(path)"); return }
        defer { close(fd) }
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        #expect(n == bytes.count)
    }

    /// The number of records in the cache file, nil when there is none. The file: "BKPSSUM3", a
    /// checksum, the folder's stamp (4 words), the records token (a length, 0 or 16, and its
    /// bytes), the string table (a count, then each string's length and bytes), the names (a
    /// count, then 4-byte indexes), then the count of records.
    static func cachedCount(_ f: BockerFixture) -> Int? {
        cacheLayout(f)?.count
    }

    /// The length of the cache's records token (16: trusted whole while the token stands).
    static func cachedTokenLength(_ f: BockerFixture) -> Int? {
        cacheLayout(f)?.token
    }

    static func cacheLayout(_ f: BockerFixture) -> (count: Int, token: Int)? {
        guard let b = readBytes(f.root + "/cache/containers"), b.count >= 64,
              String(decoding: b[0..<8], as: UTF8.self) == "BKPSSUM3" else { return nil }
        func word(_ at: Int) -> Int? {
            guard at >= 0, at + 8 <= b.count else { return nil }
            return b[at..<at + 8].reversed().reduce(0) { $0 << 8 | Int($1) }
        }
        var at = 48
        guard let token = word(at) else { return nil }
        at += 8 + token
        guard let strings = word(at) else { return nil }
        at += 8
        for _ in 0..<strings {
            guard let n = word(at) else { return nil }
            at += 8 + n
        }
        guard let names = word(at), let count = word(at + 8 + 4 * names) else { return nil }
        return (count, token)
    }

    /// A writer of records under way, as `Runtime.changingRecords` is: the shared lock on the
    /// token file and a new token; `end` lets it go (as a writer's death does).
    struct WriterUnderWay {
        let fd: Int32
        init(_ f: BockerFixture) throws {
            fd = open(f.root + "/cache/records-token", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            try #require(fd >= 0)
            try #require(flock(fd, LOCK_SH) == 0)
            var rng = SystemRandomNumberGenerator()
            var token = [rng.next() as UInt64, rng.next() as UInt64]
            try #require(pwrite(fd, &token, 16, 0) == 16)
        }
        func end() { close(fd) }
    }

    /// Runs `ps` until the cache holds `count` entries (a record is cached once it is a second
    /// old); false at the deadline.
    static func waitForCache(_ f: BockerFixture, count: Int, timeout: Double = 20) -> Bool {
        var left = Int(timeout * 10)
        while left > 0 {
            _ = f.run(["ps", "-q"])
            if cachedCount(f) == count { return true }
            usleep(100_000)
            left -= 1
        }
        return false
    }

    /// `bocker ARGS` equals the oracle's output for `mode` (run before and after it, so that a
    /// clock tick between the two runs — "5 seconds ago" becoming "6" — is retried, not failed).
    static func expectSeedOutput(_ f: BockerFixture, _ oracle: String, _ args: [String], _ mode: [String],
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        var last = ""
        for _ in 0..<5 {
            let before = f.run(["script", oracle] + mode)
            let ps = f.run(args)
            let after = f.run(["script", oracle] + mode)
            #expect(before.status == 0 && ps.status == 0, "\(before) \(ps)", sourceLocation: sourceLocation)
            guard before.stdout == after.stdout else { continue }
            if ps.stdout == before.stdout { return }
            last = "bocker \(args.joined(separator: " ")):\n\(ps.stdout)\nseed:\n\(before.stdout)"
        }
        Issue.record("not the seed's output: \(last)", sourceLocation: sourceLocation)
    }

    @Test("ps, ps --format and every summary field are the seed's, from the records and from the cache")
    func sameAsSeed() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let oracle = try f.writeFile("oracle.lua", Self.oracle)
            _ = f.run(["volume", "create", "pscache-vol"])
            let created = f.run(["create", "--name", "made", "-l", "tier=web", "-l", "a=b c", "-p", "8080:80",
                                 "-v", "pscache-vol:/data", "--tmpfs", "/scratch", img, "sh", "-c", "echo 'hi there'"])
            #expect(created.status == 0, "\(created)")
            let (e, _) = f.runNew(["run", "--name", "failed", img, "sh", "-c", "exit 3"])
            #expect(e.status == 3, "\(e)")
            let running = try f.runDetached(["--name", "up", "-l", "tier=db", img, "sleep", "1000"])
            let paused = try f.runDetached(["--name", "frozen", img, "sleep", "1000"])
            #expect(f.run(["pause", "frozen"]).status == 0)
            let all = f.containerIds()
            #expect(all.count == 4)

            let format = #"{{.ID}}|{{.Names}}|{{.Image}}|{{.Command}}|{{.CreatedAt}}|{{.RunningFor}}|{{.State}}|{{.Status}}|{{.Ports}}|{{.Labels}}|{{.Mounts}}|{{.Networks}}"#
            // Fresh records (not all cached yet), then the same from the cache.
            for pass in ["fresh", "cached"] {
                if pass == "cached" {
                    #expect(Self.waitForCache(f, count: all.count), "the cache never held all \(all.count) containers")
                }
                let fields = f.run(["script", oracle, "fields"])
                #expect(fields.stdout == "ok \(all.count)\n", "\(pass): \(fields)")
                Self.expectSeedOutput(f, oracle, ["ps"], ["table"])
                Self.expectSeedOutput(f, oracle, ["ps", "-a", "--no-trunc"], ["table"])
                Self.expectSeedOutput(f, oracle, ["ps", "--format", format], ["format", format])
                Self.expectSeedOutput(f, oracle, ["ps", "--format", "json"], ["format", "json"])
                Self.expectSeedOutput(f, oracle, ["ps", "--format", #"table {{.ID}}\t{{.Status}}\t{{.Names}}"#],
                                      ["format", #"table {{.ID}}\t{{.Status}}\t{{.Names}}"#])
                let q = f.run(["ps", "-q"])
                #expect(Set(q.stdoutLines) == all && q.stdoutLines.count == all.count, "\(q)")
                #expect(f.run(["ps", "-q", "--filter", "status=paused"]).stdoutLines == [paused])
                #expect(f.run(["ps", "-q", "--filter", "status=running"]).stdoutLines == [running])
                #expect(f.run(["ps", "-q", "--filter", "label=tier"]).stdoutLines.count == 2)
                #expect(f.run(["ps", "--format", "{{.Names}}", "--filter", "label=a=b c"]).stdout == "made\n")
                #expect(f.run(["ps", "--format", "{{.Names}}", "--filter", "ancestor=" + img, "--filter", "status=exited"])
                    .stdout == "failed\n")
                #expect(f.run(["ps", "--format", "{{.Names}}", "-n", "2"]).stdoutLines == ["frozen", "up"])
                #expect(f.run(["ps", "--format", "{{.Names}}", "-l"]).stdoutLines == ["frozen"])
                #expect(f.run(["ps", "-q", "--filter", "name=nosuch"]).stdout.isEmpty)
            }
            // A summary also works as a Container: its methods take it.
            let logs = try f.writeFile("logs.lua", """
                for _, c in ipairs(bocker.container.summaries()) do
                  if c.name == "failed" then c:start(); print(c:wait()); print(c.env ~= nil) end
                end
                """)
            let l = f.run(["script", logs])
            #expect(l.status == 0 && l.stdout == "3\ntrue\n", "\(l)")
            _ = f.run(["unpause", "frozen"])
            _ = f.run(["rm", "-f"] + Array(all))
            _ = f.run(["volume", "rm", "pscache-vol"])
            f.expectLifecycleClean(removed: Array(all))
        }
    }

    @Test("changes through bocker, records edited while a writer is under way, records added or removed, and a truncated or damaged cache, never show stale")
    func staleOrDamagedCache() throws {
        try LifecycleFixture.with { f in
            let img = try f.initImage()
            let oracle = try f.writeFile("oracle.lua", Self.oracle)
            var ids: [String] = []
            for name in ["alpha1", "beta1", "gamma1"] {
                let (r, id) = f.runNew(["create", "--name", name, img, "true"])
                #expect(r.status == 0, "\(r)")
                ids.append(try #require(id))
            }
            #expect(Self.waitForCache(f, count: 3), "the cache never held the 3 containers")
            let names = { Set(f.run(["ps", "--format", "{{.Names}}"]).stdoutLines) }
            let cache = f.root + "/cache/containers"
            let whole = try #require(Self.readBytes(cache))

            // The cache holds the records token: it is trusted whole, without a stat per record,
            // while the token stands. A change through bocker writes a new token first.
            #expect(Self.cachedTokenLength(f) == 16, "the settled cache holds no records token")
            #expect(f.run(["rename", "gamma1", "gamma2"]).status == 0)
            #expect(names() == ["alpha1", "beta1", "gamma2"])

            // The record edited in place (same inode, same size, only the name differs) while a
            // writer is under way: its new token makes ps stat every record and see the edit;
            // while it holds the lock no cache takes a token, so edits keep being seen; once it
            // is gone (killed before it wrote anything) the cache made meanwhile holds no token.
            #expect(Self.waitForCache(f, count: 3) && Self.cachedTokenLength(f) == 16)
            let path = f.root + "/containers/\(ids[0])/container.json"
            let record = try #require(Host.readFile(path))
            #expect(record.contains(#""name":"alpha1""#))
            let writer = try Self.WriterUnderWay(f)
            try Host.writeFile(path, record.replacingOccurrences(of: #""name":"alpha1""#, with: #""name":"alpha2""#))
            #expect(names() == ["alpha2", "beta1", "gamma2"])
            #expect(Self.cachedTokenLength(f) == 0, "a cache made while a writer held the lock took its token")
            try Host.writeFile(path, record.replacingOccurrences(of: #""name":"alpha1""#, with: #""name":"alpha3""#))
            #expect(names() == ["alpha3", "beta1", "gamma2"])
            writer.end()
            try Host.writeFile(path, record.replacingOccurrences(of: #""name":"alpha1""#, with: #""name":"alpha2""#))
            #expect(names() == ["alpha2", "beta1", "gamma2"])
            #expect(f.run(["script", oracle, "fields"]).stdout == "ok 3\n")
            #expect(Self.waitForCache(f, count: 3) && Self.cachedTokenLength(f) == 16, "no token once the writer was gone")

            // Truncated anywhere, a byte changed, bytes added: ignored, and written anew.
            var flipped = whole
            flipped[whole.count / 2] ^= 0x20
            for damaged in [Array(whole.prefix(whole.count / 2)), Array(whole.prefix(20)), [], whole + [0x78], flipped] {
                Self.writeBytes(cache, damaged)
                #expect(names() == ["alpha2", "beta1", "gamma2"], "cache of \(damaged.count) bytes")
                #expect(Self.cachedCount(f) == 3 || Self.waitForCache(f, count: 3), "the damaged cache was not rebuilt")
                #expect(f.run(["script", oracle, "fields"]).stdout == "ok 3\n")
            }

            // Removed and added behind its back (rm and create never touch the cache).
            _ = f.run(["rm", ids[1]])
            #expect(names() == ["alpha2", "gamma2"])
            #expect(Self.cachedCount(f) == 2)
            let (r, added) = f.runNew(["create", "--name", "delta1", img, "true"])
            #expect(r.status == 0, "\(r)")
            #expect(names() == ["alpha2", "gamma2", "delta1"])
            Self.expectSeedOutput(f, oracle, ["ps"], ["table"])

            // A killed writer's temporary file goes with the next write; the cache is never the
            // truth: removed whole, ps is the same.
            let leftover = f.root + "/cache/.tmp-containers-999999999-1"
            try Host.writeFile(leftover, "half")
            unlink(cache)
            #expect(names() == ["alpha2", "gamma2", "delta1"])
            #expect(Self.waitForCache(f, count: 3))
            #expect(!Host.exists(leftover), "a dead writer's temporary file was left")
            let all = ids + [try #require(added)]
            _ = f.run(["rm", "-f"] + all)
            f.expectLifecycleClean(removed: all)
        }
    }
}
