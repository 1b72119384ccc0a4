import CLua
import BockerCore
import BockerStore

extension Lua {
    /// The keys of a create option `healthcheck = {…}`.
    static let healthcheckKeys = ["test", "interval", "timeout", "retries", "start_period", "start_interval"]

    /// Field `healthcheck` of a create table: `false` disables the image's check (NONE); a
    /// string is a shell command (CMD-SHELL); a table is {test = "shell" | {"CMD", …} | {argv…},
    /// interval =, timeout =, start_period =, start_interval = (durations), retries =}. A table
    /// without `test` keeps the image's command with the settings given.
    func optHealthcheck(_ t: Int32) throws -> HealthcheckConfig? {
        pushRawField(t, "healthcheck")
        defer { clua_pop(L, 1) }
        if isNil(-1) { return nil }
        if let b = bool(-1) {
            guard !b else { throw BockerError(.invalidArgument, "option 'healthcheck' must be a table, a shell command or false") }
            return HealthcheckConfig(test: ["NONE"])
        }
        if lua_type(L, -1) == LUA_TSTRING, let s = string(-1) { return HealthcheckConfig(test: ["CMD-SHELL", s]) }
        guard let h = try optionsTable(lua_gettop(L), "healthcheck", keys: Lua.healthcheckKeys) else { return nil }
        var test: [String] = []
        pushRawField(h, "test")
        let kind = lua_type(L, -1)
        let single = kind == LUA_TSTRING ? string(-1) : nil
        clua_pop(L, 1)
        if let single {
            test = ["CMD-SHELL", single]
        } else if let list = try optStrings(h, "test") {
            guard !list.isEmpty else { throw BockerError(.invalidArgument, "healthcheck: test must not be empty") }
            test = ["CMD", "CMD-SHELL", "NONE"].contains(list[0]) ? list : ["CMD"] + list
        }
        func ns(_ key: String) throws -> Int64? { try optDuration(h, key).map { Int64(($0 * 1e9).rounded()) } }
        let c = HealthcheckConfig(test: test, interval: try ns("interval"), timeout: try ns("timeout"),
                                  startPeriod: try ns("start_period"), startInterval: try ns("start_interval"),
                                  retries: try optInt(h, "retries"))
        return c
    }
}
