-- bocker.strings: small string helpers shared by the libraries (Dockerfile parser, projects).
local strings = {}

--- Levenshtein distance (Go's, byte-wise), for "did you mean" hints.
function strings.distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

return strings
