-- bocker.dockerfile.lex: Docker's shell lexer for Dockerfiles (BuildKit's shell.Lex), the word
-- and variable rules of the instructions that expand ($VAR, ${VAR}, ${VAR:-w} ${VAR-w}
-- ${VAR:+w} ${VAR+w} ${VAR:?msg} ${VAR?msg} ${VAR#p} ${VAR##p} ${VAR%p} ${VAR%%p} ${VAR/p/r}
-- ${VAR//p/r}, quotes, the escape token), and a strict JSON reader for the exec form.
--
--   lex.process(src, vars, opts) → result string, words list, used set
--     vars: a table name → value (nil = unset) or a function(name) → value|nil
--     opts: escape ("\\" or "`"), raw_quotes, raw_escapes, skip_unset, skip_quotes
--   lex.json_strings(text) → list of strings | nil, err ("not_json" | "not_strings")
--
-- Errors are raised as plain strings worded as BuildKit's.
local lex = {}

local function is_space(c)
  return c == " " or c == "\t" or c == "\n" or c == "\r" or c == "\v" or c == "\f"
end
lex.is_space = is_space

local special_params = { ["@"] = true, ["*"] = true, ["#"] = true, ["?"] = true, ["-"] = true,
  ["$"] = true, ["!"] = true, ["0"] = true }

-- A word collector: characters that are spaces split words unless they came from quotes or
-- escapes (BuildKit's wordsStruct).
local function new_words()
  return { buf = {}, list = {}, in_word = false }
end

local function add_raw(w, s)
  w.buf[#w.buf + 1] = s
  w.in_word = true
end

local function add_char(w, c)
  if is_space(c) then
    if w.in_word and #w.buf > 0 then
      local word = table.concat(w.buf)
      if word ~= "" then
        w.list[#w.list + 1] = word
        w.buf = {}
        w.in_word = false
      end
    end
  else
    add_raw(w, c)
  end
end

local function add_string(w, s)
  for i = 1, #s do add_char(w, s:sub(i, i)) end
end

local function get_words(w)
  local word = table.concat(w.buf)
  if word ~= "" then w.list[#w.list + 1] = word end
  w.buf, w.in_word = {}, false
  return w.list
end

-- Shell patterns of ${VAR#p} and friends (* ? and \-escapes, no brackets) as Lua patterns.
local function shell_pattern(pattern, greedy, anchored)
  local out = { anchored and "^" or "" }
  local i = 1
  while i <= #pattern do
    local c = pattern:sub(i, i)
    if c == "*" then
      out[#out + 1] = greedy and ".*" or ".-"
    elseif c == "?" then
      out[#out + 1] = "[%z\1-\127\194-\244][\128-\191]*"
    else
      if c == "\\" then
        local n = pattern:sub(i + 1, i + 1)
        if n == "}" or n == "/" then
          i = i + 1
          c = n
        else
          i = i + 1
          if n ~= "*" and n ~= "?" and n ~= "\\" then error("invalid escape '\\" .. n .. "'", 0) end
          c = n
        end
      end
      if c:match("%W") then out[#out + 1] = "%" .. c else out[#out + 1] = c end
    end
    i = i + 1
  end
  return table.concat(out)
end

local function utf8_reverse(s)
  local ok, chars = pcall(function()
    local t = {}
    for _, cp in utf8.codes(s) do table.insert(t, 1, utf8.char(cp)) end
    return t
  end)
  if ok then return table.concat(chars) end
  return s:reverse()
end

-- Reverses a pattern keeping each escape in front of the character it escapes.
local function reverse_pattern(p)
  local units, i = {}, 1
  while i <= #p do
    local c = p:sub(i, i)
    if c == "\\" and i < #p then
      local n = p:match("^[%z\1-\127\194-\244][\128-\191]*", i + 1)
      table.insert(units, 1, "\\" .. n)
      i = i + 1 + #n
    else
      local ch = p:match("^[%z\1-\127\194-\244][\128-\191]*", i) or c
      table.insert(units, 1, ch)
      i = i + #ch
    end
  end
  return table.concat(units)
end

local function trim_prefix(pattern, value, greedy)
  local ok, lp = pcall(shell_pattern, pattern, greedy, true)
  if not ok then error("invalid pattern (" .. pattern .. ") in substitution: " .. lp, 0) end
  local _, e = value:find(lp)
  if e then return value:sub(e + 1) end
  return value
end

local function trim_suffix(pattern, value, greedy)
  return utf8_reverse(trim_prefix(reverse_pattern(pattern), utf8_reverse(value), greedy))
end

-- The lexer proper: one state per call of lex.process.
local Lexer = {}
Lexer.__index = Lexer

function Lexer:peek() return self.s:sub(self.i, self.i) end
function Lexer:next()
  local c = self.s:sub(self.i, self.i)
  if c ~= "" then self.i = self.i + 1 end
  return c
end

function Lexer:get(name)
  local v
  if type(self.vars) == "function" then v = self.vars(name) else v = self.vars[name] end
  if v ~= nil then
    self.used[name] = true
    return tostring(v), true
  end
  self.unused[name] = true
  return "", false
end

function Lexer:name()
  local c = self:peek()
  if c:match("^%d$") then
    local d = self.s:match("^%d+", self.i)
    self.i = self.i + #d
    return d
  end
  if special_params[c] then
    self.i = self.i + 1
    return c
  end
  -- letters (bytes of non-ASCII characters count as letters), digits and _
  local n = self.s:match("^[%w_\128-\255]*", self.i)
  self.i = self.i + #n
  return n
end

function Lexer:single_quote()
  local out = {}
  local q = self:next()
  if self.raw_quotes then out[#out + 1] = q end
  while true do
    local c = self:next()
    if c == "" then error("unexpected end of statement while looking for matching single-quote", 0) end
    if c == "'" then
      if self.raw_quotes then out[#out + 1] = c end
      return table.concat(out)
    end
    out[#out + 1] = c
  end
end

function Lexer:double_quote()
  local out = {}
  local q = self:next()
  if self.raw_quotes then out[#out + 1] = q end
  while true do
    local c = self:peek()
    if c == "" then
      error("unexpected end of statement while looking for matching double-quote", 0)
    elseif c == '"' then
      self:next()
      if self.raw_quotes then out[#out + 1] = c end
      return table.concat(out)
    elseif c == "$" then
      out[#out + 1] = self:dollar()
    else
      c = self:next()
      if c == self.escape then
        if self.raw_escapes then out[#out + 1] = c end
        local n = self:peek()
        if n == "" then
          goto continue
        elseif n == '"' or n == "$" or n == self.escape then
          c = self:next()
        end
      end
      out[#out + 1] = c
    end
    ::continue::
  end
end

function Lexer:possible_heredoc()
  self:next()
  if self:peek() ~= "<" then return "<" end
  self:next()
  local sp = self.s:match("^[ \t]*", self.i)
  self.i = self.i + #sp
  return "<<" .. sp
end

function Lexer:dollar()
  self:next()
  if self:peek() ~= "{" then
    local name = self:name()
    if name == "" then return "$" end
    local v, set = self:get(name)
    if not set and self.skip_unset then return "$" .. name end
    return v
  end
  self:next()
  local c = self:peek()
  if c == "" then error("syntax error: missing '}'", 0) end
  if c == "{" or c == "}" or c == ":" then error("syntax error: bad substitution", 0) end
  local name = self:name()
  local ch = self:next()
  local chs = ch
  if ch == "}" then
    local v, set = self:get(name)
    if not set and self.skip_unset then return "${" .. name .. "}" end
    return v
  elseif ch == "" then
    error("syntax error: missing '}'", 0)
  end
  local null_is_unset = false
  if ch == ":" then
    null_is_unset = true
    ch = self:next()
    chs = chs .. ch
  end
  if null_is_unset or ch == "+" or ch == "-" or ch == "?" or ch == "#" or ch == "%" then
    local raw = ch == "#" or ch == "%"
    if null_is_unset and raw then error("unsupported modifier (" .. chs .. ") in substitution", 0) end
    local ok, word = pcall(self.stop_on, self, "}", raw)
    if not ok then
      if self:peek() == "" then error("syntax error: missing '}'", 0) end
      error(word, 0)
    end
    local v, set = self:get(name)
    if self.skip_unset and not set then return "${" .. name .. chs .. word .. "}" end
    if ch == "-" then
      if not set or (null_is_unset and v == "") then return word end
      return v
    elseif ch == "+" then
      if not set or (null_is_unset and v == "") then return "" end
      return word
    elseif ch == "?" then
      if not set then error(name .. ": " .. (word ~= "" and word or "is not allowed to be unset"), 0) end
      if null_is_unset and v == "" then
        error(name .. ": " .. (word ~= "" and word or "is not allowed to be empty"), 0)
      end
      return v
    elseif ch == "%" or ch == "#" then
      local greedy = false
      if word:sub(1, 1) == ch then greedy, word = true, word:sub(2) end
      if ch == "%" then return trim_suffix(word, v, greedy) end
      return trim_prefix(word, v, greedy)
    end
    error("unsupported modifier (" .. chs .. ") in substitution", 0)
  elseif ch == "/" then
    local all = self:peek() == "/"
    if all then self:next() end
    local ok, pattern = pcall(self.stop_on, self, "/", true)
    if not ok then
      if self:peek() == "" then error("syntax error: missing '/' in ${}", 0) end
      error(pattern, 0)
    end
    local ok2, repl = pcall(self.stop_on, self, "}", true)
    if not ok2 then
      if self:peek() == "" then error("syntax error: missing '}'", 0) end
      error(repl, 0)
    end
    local v, set = self:get(name)
    if self.skip_unset and not set then return "${" .. name .. "/" .. pattern .. "/" .. repl .. "}" end
    local okp, lp = pcall(shell_pattern, pattern, true, false)
    if not okp then error("invalid pattern (" .. pattern .. ") in substitution: " .. lp, 0) end
    local r = repl:gsub("%%", "%%%%")
    if all then return (v:gsub(lp, r)) end
    return (v:gsub(lp, r, 1))
  end
  error("unsupported modifier (" .. chs .. ") in substitution", 0)
end

-- Reads up to `stop` (or the end when stop is nil); returns the text and its words.
function Lexer:stop_on(stop, raw_escapes)
  local saved = self.raw_escapes
  self.raw_escapes = raw_escapes
  local result, words = {}, new_words()
  while self.i <= #self.s do
    local c = self:peek()
    if stop and c == stop then
      self:next()
      self.raw_escapes = saved
      return table.concat(result), get_words(words)
    end
    if c == "$" then
      local t = self:dollar()
      result[#result + 1] = t
      add_string(words, t)
    elseif c == "<" then
      local t = self:possible_heredoc()
      result[#result + 1] = t
      add_raw(words, t)
    elseif (c == "'" or c == '"') and not self.skip_quotes then
      local t = c == "'" and self:single_quote() or self:double_quote()
      result[#result + 1] = t
      add_raw(words, t)
    else
      c = self:next()
      if c == self.escape then
        if self.raw_escapes then
          add_raw(words, c)
          result[#result + 1] = c
        end
        c = self:next()
        if c == "" then break end
        add_raw(words, c)
      else
        add_char(words, c)
      end
      result[#result + 1] = c
    end
  end
  self.raw_escapes = saved
  if stop then error("unexpected end of statement while looking for matching " .. stop, 0) end
  return table.concat(result), get_words(words)
end

--- Expands and splits `src` as BuildKit's lexer does. Returns the text, its words and the set
--- of variable names that were found (used) in `vars`.
function lex.process(src, vars, opts)
  opts = opts or {}
  local self = setmetatable({
    s = src, i = 1, vars = vars or {}, escape = opts.escape or "\\",
    raw_quotes = opts.raw_quotes, raw_escapes = opts.raw_escapes or false,
    skip_unset = opts.skip_unset, skip_quotes = opts.skip_quotes, used = {}, unused = {},
  }, Lexer)
  local ok, result, words = pcall(self.stop_on, self, nil, self.raw_escapes)
  if not ok then error(string.format("failed to process %q: %s", src, result), 0) end
  return result, words, self.used
end

-- JSON (RFC 8259, as Go's decoder reads it) for the exec form: an array whose elements must
-- all be strings.
local function valid_number(n)
  local rest = n:gsub("^%-", "")
  local int = rest:match("^0") or rest:match("^[1-9]%d*")
  if not int then return false end
  rest = rest:sub(#int + 1)
  local frac = rest:match("^%.%d+")
  if rest:sub(1, 1) == "." and not frac then return false end
  rest = rest:sub(#(frac or "") + 1)
  return rest == "" or rest:match("^[eE][+-]?%d+$") ~= nil
end

local function json_reader(s)
  local i = 1
  local function ws() i = s:find("[^ \t\r\n]", i) or #s + 1 end
  local value
  local function str()
    i = i + 1
    local out = {}
    while true do
      local j = s:find('["\\%c]', i)
      if not j then return nil end
      out[#out + 1] = s:sub(i, j - 1)
      local c = s:sub(j, j)
      if c == '"' then i = j + 1; return table.concat(out) end
      if c ~= "\\" then return nil end
      local e = s:sub(j + 1, j + 1)
      local simple = ({ ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" })[e]
      if simple then
        out[#out + 1] = simple
        i = j + 2
      elseif e == "u" then
        local h = s:match("^%x%x%x%x", j + 2)
        if not h then return nil end
        local cp = tonumber(h, 16)
        i = j + 6
        if cp >= 0xD800 and cp < 0xDC00 then
          local l = s:match("^\\u(%x%x%x%x)", i)
          local lo = l and tonumber(l, 16)
          if lo and lo >= 0xDC00 and lo < 0xE000 then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            i = i + 6
          else
            cp = 0xFFFD
          end
        elseif cp >= 0xDC00 and cp < 0xE000 then
          cp = 0xFFFD
        end
        out[#out + 1] = utf8.char(cp)
      else
        return nil
      end
    end
  end
  function value()
    ws()
    local c = s:sub(i, i)
    if c == '"' then
      local v = str()
      if v == nil then return nil end
      return true, v
    elseif c == "[" or c == "{" then
      local close = c == "[" and "]" or "}"
      i = i + 1
      ws()
      local items = {}
      if s:sub(i, i) == close then i = i + 1; return true, items end
      while true do
        if close == "}" then
          ws()
          if s:sub(i, i) ~= '"' or str() == nil then return nil end
          ws()
          if s:sub(i, i) ~= ":" then return nil end
          i = i + 1
        end
        local ok, v = value()
        if not ok then return nil end
        items[#items + 1] = v
        ws()
        local d = s:sub(i, i)
        i = i + 1
        if d == close then return true, items end
        if d ~= "," then return nil end
      end
    else
      local lit = s:match("^true", i) or s:match("^false", i) or s:match("^null", i)
      if not lit then
        lit = s:match("^%-?%d+%.?%d*[eE]?[+-]?%d*", i)
        if not lit or not valid_number(lit) then return nil end
      end
      i = i + #lit
      return true, { number = lit }
    end
  end
  local ok, v = value()
  if not ok then return nil end
  ws()
  if i <= #s then return nil end
  return v
end

--- The exec form: `text` (left-trimmed, starting with "[") as a list of strings. Returns nil
--- and "not_json" when it is not a JSON array (the shell form applies), nil and
--- "not_strings" when it is one but holds something else than strings (an error).
function lex.json_strings(text)
  text = text:gsub("^%s+", "")
  if text:sub(1, 1) ~= "[" then return nil, "not_json" end
  local v = json_reader(text)
  if type(v) ~= "table" then return nil, "not_json" end
  for _, e in ipairs(v) do
    if type(e) ~= "string" then return nil, "not_strings" end
  end
  return v
end

return lex
