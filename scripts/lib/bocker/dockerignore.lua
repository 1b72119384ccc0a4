-- bocker.dockerignore: which files of a build context are sent, by Docker's rules
-- (moby/patternmatcher and BuildKit's context walk).
--
--   local dockerignore = require "bocker.dockerignore"
--   local m = dockerignore.load(context_dir [, dockerfile_path])   -- an empty matcher if none
--   m:excluded("node_modules/x.js")  --> true
--   m:walk(context_dir)              --> { "Dockerfile", "src", "src/main.go", … }, types
--
-- A pattern is Go's filepath.Match syntax (`*` `?` `[a-z]` `[^a-z]` `\` escapes) plus `**`
-- for any number of directories; patterns are cleaned (filepath.Clean; a leading `/` is
-- dropped); a pattern matching a directory excludes all below it; `!pattern` re-includes
-- (the last matching line wins); lines starting with `#` are comments.
local dockerignore = {}

-- Go's filepath.Clean.
local function clean(p)
  if p == "" then return "." end
  local rooted = p:sub(1, 1) == "/"
  local parts = {}
  for seg in p:gmatch("[^/]+") do
    if seg == ".." then
      if #parts > 0 and parts[#parts] ~= ".." then parts[#parts] = nil
      elseif not rooted then parts[#parts + 1] = ".." end
    elseif seg ~= "." then
      parts[#parts + 1] = seg
    end
  end
  local s = (rooted and "/" or "") .. table.concat(parts, "/")
  return s == "" and "." or s
end
dockerignore.clean = clean

local function codepoints(s)
  local ok, cps = pcall(function()
    local t = {}
    for _, c in utf8.codes(s) do t[#t + 1] = c end
    return t
  end)
  if ok then return cps end
  local t = {}
  for i = 1, #s do t[i] = s:byte(i) end
  return t
end

local SLASH = 47

-- A pattern as tokens (patternmatcher's compile): lit, star ([^/]*), q ([^/]), any (.*),
-- dirs ((.*/)?), class; and its match type: exact, prefix, suffix or tokens.
local function compile(p)
  local cps = codepoints(p)
  local toks, kind, i, step = {}, "exact", 1, 0
  local function bad() error("syntax error in pattern", 0) end
  while i <= #cps do
    local c = cps[i]
    if c == 42 then -- *
      if cps[i + 1] == 42 then
        i = i + 2
        if cps[i] == SLASH then i = i + 1 end
        if i > #cps then
          if kind == "exact" then kind = "prefix" else toks[#toks + 1] = { k = "any" }; kind = "tokens" end
        else
          toks[#toks + 1] = { k = "dirs" }
          kind = "tokens"
        end
        if step == 0 then kind = "suffix" end
        i = i - 1
      else
        toks[#toks + 1] = { k = "star" }
        kind = "tokens"
      end
    elseif c == 63 then -- ?
      toks[#toks + 1] = { k = "q" }
      kind = "tokens"
    elseif c == 92 then -- \
      if i == #cps then bad() end
      i = i + 1
      toks[#toks + 1] = { k = "lit", c = cps[i] }
      kind = "tokens"
    elseif c == 91 then -- [
      local t = { k = "class", items = {} }
      i = i + 1
      if cps[i] == 94 then t.neg = true; i = i + 1 end
      while true do
        local a = cps[i]
        if a == nil then bad() end
        if a == 93 and #t.items > 0 then break end
        if a == 93 then bad() end
        if a == 92 then i = i + 1; a = cps[i]; if a == nil then bad() end end
        local b = a
        if cps[i + 1] == 45 and cps[i + 2] and cps[i + 2] ~= 93 then -- a-b
          i = i + 2
          b = cps[i]
          if b == 92 then i = i + 1; b = cps[i]; if b == nil then bad() end end
          if b < a then bad() end
        end
        t.items[#t.items + 1] = { a, b }
        i = i + 1
      end
      toks[#toks + 1] = t
      kind = "tokens"
    else
      toks[#toks + 1] = { k = "lit", c = c }
    end
    i = i + 1
    step = step + 1
  end
  return toks, kind
end

-- Characters that can end a range in a Lua set as they are.
local RANGE_OK = {}
for c in ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!\"#$&'()*+,./:;<=>?@_`{|}~ "):gmatch(".") do
  RANGE_OK[c] = true
end

-- The tokens as Lua patterns (one per choice of the optional `(.*/)?` groups), or nil when a
-- class cannot be written as a Lua set (non-ASCII members).
local function lua_patterns(toks)
  local alts = { "^" }
  for _, t in ipairs(toks) do
    local piece
    if t.k == "lit" then
      local ch = utf8.char(t.c)
      piece = ch:match("^%w$") and ch or (ch:gsub(".", function(b) return "%" .. b end))
      if t.c >= 128 then piece = ch end
    elseif t.k == "star" then piece = "[^/]*"
    elseif t.k == "q" then piece = "[^/][\128-\191]*"
    elseif t.k == "any" then piece = ".*"
    elseif t.k == "class" then
      local set = { "[", t.neg and "^" or "" }
      for _, r in ipairs(t.items) do
        if r[1] >= 128 or r[2] >= 128 then return nil end
        local a, b = string.char(r[1]), string.char(r[2])
        if r[1] == r[2] then
          set[#set + 1] = a:match("%w") and a or "%" .. a
        else
          if not (RANGE_OK[a] and RANGE_OK[b]) then return nil end
          set[#set + 1] = a .. "-" .. b
        end
      end
      set[#set + 1] = "]"
      piece = table.concat(set) .. (t.neg and "[\128-\191]*" or "")
    end
    if t.k == "dirs" then
      local more = {}
      for _, a in ipairs(alts) do more[#more + 1] = a; more[#more + 1] = a .. ".*/" end
      alts = more
      if #alts > 64 then return nil end
    else
      for j = 1, #alts do alts[j] = alts[j] .. piece end
    end
  end
  for j = 1, #alts do alts[j] = alts[j] .. "$" end
  return alts
end

-- Backtracking over code points, for what Lua patterns cannot say.
local function match_tokens(toks, cps)
  local memo = {}
  local function m(ti, pi)
    local key = ti * (#cps + 2) + pi
    local r = memo[key]
    if r ~= nil then return r end
    local t = toks[ti]
    if not t then r = pi > #cps
    elseif t.k == "lit" then r = cps[pi] == t.c and m(ti + 1, pi + 1)
    elseif t.k == "q" then r = cps[pi] ~= nil and cps[pi] ~= SLASH and m(ti + 1, pi + 1)
    elseif t.k == "class" then
      local c, hit = cps[pi], false
      if c then
        for _, rg in ipairs(t.items) do if c >= rg[1] and c <= rg[2] then hit = true; break end end
      end
      r = c ~= nil and hit ~= (t.neg or false) and m(ti + 1, pi + 1)
    elseif t.k == "star" or t.k == "any" then
      r = false
      for j = pi, #cps + 1 do
        if m(ti + 1, j) then r = true; break end
        if j <= #cps and t.k == "star" and cps[j] == SLASH then break end
      end
    else -- dirs: (.*/)?
      r = m(ti + 1, pi)
      for j = pi, #cps do
        if r then break end
        if cps[j] == SLASH then r = m(ti + 1, j + 1) end
      end
    end
    memo[key] = r
    return r
  end
  return m(1, 1)
end

local Matcher = {}
Matcher.__index = Matcher

local function pattern_matches(p, path)
  if p.kind == "exact" then return path == p.text end
  if p.kind == "prefix" then return path:sub(1, #p.text - 2) == p.text:sub(1, -3) end
  if p.kind == "suffix" then
    local suffix = p.text:sub(3)
    if suffix == "" or path:sub(-#suffix) == suffix then return true end
    return suffix:sub(1, 1) == "/" and path == suffix:sub(2)
  end
  if p.lua then
    for _, lp in ipairs(p.lua) do
      if path:find(lp) then return true end
    end
    return false
  end
  return match_tokens(p.toks, codepoints(path))
end

--- A matcher for patterns (a list of lines as Docker reads .dockerignore: already cleaned).
function dockerignore.new(patterns)
  local self = setmetatable({ patterns = {}, exclusions = false }, Matcher)
  for _, raw in ipairs(patterns) do
    local p = raw:gsub("^%s+", ""):gsub("%s+$", "")
    if p ~= "" then
      p = clean(p)
      local pat = { exclusion = false }
      if p:sub(1, 1) == "!" then
        if #p == 1 then error('illegal exclusion pattern: "!"', 0) end
        pat.exclusion, p = true, p:sub(2)
        self.exclusions = true
      end
      if #p > 1 and p:sub(1, 1) == "/" then p = p:sub(2) end
      pat.text = p
      pat.toks, pat.kind = compile(p)
      if pat.kind == "tokens" then pat.lua = lua_patterns(pat.toks) end
      self.patterns[#self.patterns + 1] = pat
    end
  end
  return self
end

--- Parses .dockerignore text (moby's ignorefile.ReadAll). `name` prefixes errors.
function dockerignore.parse(text, name)
  local lines, n = {}, 0
  for line in (text or ""):gmatch("[^\n]*") do
    n = n + 1
    if n == 1 then line = line:gsub("^\239\187\191", "") end
    if line:sub(1, 1) ~= "#" then
      local p = line:gsub("^%s+", ""):gsub("%s+$", "")
      if p ~= "" then
        local invert = p:sub(1, 1) == "!"
        if invert then p = p:sub(2):gsub("^%s+", "") end
        if p ~= "" then
          p = clean(p)
          if #p > 1 and p:sub(1, 1) == "/" then p = p:sub(2) end
        end
        local ok, err = pcall(dockerignore.new, { (invert and "!" or "") .. p })
        if not ok then error((name or ".dockerignore") .. ":" .. n .. ": " .. err, 0) end
        lines[#lines + 1] = (invert and "!" or "") .. p
      end
    end
  end
  local m = dockerignore.new(lines)
  m.lines = lines
  return m
end

--- The matcher for a context: <dockerfile>.dockerignore beside a given Dockerfile wins over
--- <context>/.dockerignore; neither → a matcher that excludes nothing.
function dockerignore.load(context_dir, dockerfile_path)
  local candidates = {}
  if dockerfile_path then candidates[1] = dockerfile_path .. ".dockerignore" end
  candidates[#candidates + 1] = context_dir .. "/.dockerignore"
  for _, path in ipairs(candidates) do
    local f = io.open(path, "rb")
    if f then
      local text = f:read("a")
      f:close()
      if text then
        local m = dockerignore.parse(text, path)
        m.file = path
        return m
      end
    end
  end
  return dockerignore.new({})
end

-- patternmatcher's MatchesUsingParentResults: `info` holds which patterns matched the parent.
function Matcher:match_with_parents(path, info)
  local matched, out = false, {}
  for i, p in ipairs(self.patterns) do
    local m = info and info[i] or false
    if not m then
      if p.exclusion ~= matched then goto skip end
      m = pattern_matches(p, path)
      if not m and not info then
        local parent = path:match("^(.*)/[^/]*$")
        if parent then
          local prefix = nil
          for seg in parent:gmatch("[^/]+") do
            prefix = prefix and (prefix .. "/" .. seg) or seg
            if pattern_matches(p, prefix) then m = true; break end
          end
        end
      end
    end
    out[i] = m
    if m then matched = not p.exclusion end
    ::skip::
  end
  return matched, out
end

--- Whether the context path (relative, "/" separated) is left out of the build context.
function Matcher:excluded(relpath)
  local path = clean(relpath)
  if path:sub(1, 1) == "/" then path = path:sub(2) end
  if path == "." or path == "" or #self.patterns == 0 then return false end
  local matched, info, prefix = false, nil, nil
  for seg in path:gmatch("[^/]+") do
    prefix = prefix and (prefix .. "/" .. seg) or seg
    matched, info = self:match_with_parents(prefix, info)
  end
  return matched
end

--- The context's paths that are sent, depth first, each directory's entries by name (a
--- directory comes before what it holds; an excluded directory is listed only when something
--- below it is re-included). Symlinks are listed, never followed. Second result: path → type
--- ("file", "dir", "link", "other").
function dockerignore.walk(self, context_dir)
  local out, types = {}, {}
  local function walk(dir, rel, info)
    for _, e in ipairs(bocker.fs.list(dir)) do
      local path = rel and (rel .. "/" .. e.name) or e.name
      local m, minfo = false, nil
      if #self.patterns > 0 then m, minfo = self:match_with_parents(path, info) end
      if e.type == "dir" then
        if not (m and not self.exclusions) then
          local at = #out + 1
          local before = #out
          walk(dir .. "/" .. e.name, path, minfo)
          if not m or #out > before then
            table.insert(out, at, path)
            types[path] = "dir"
          end
        end
      elseif not m then
        out[#out + 1] = path
        types[path] = e.type
      end
    end
  end
  walk(context_dir, nil, nil)
  return out, types
end
Matcher.walk = dockerignore.walk

return dockerignore
