--- dode.util: small helpers shared by the Stdlib modules (dode.plot, dode.table, dode.progress,
-- dode.display). Internal: no help entries, and the functions may change with the modules using them.
--
--   local util = require 'dode.util'
--   error('dode.x.f: n must be a number (got ' .. util.describe(v) .. ')', 2)
--   local k = util.unknown_key(opts, util.set { 'path', 'title' })
--   local ok, err = util.write_file(path, text)   -- err lacks the 'dode.write_text: ' prefix
local dode = require 'dode'

local M = {}

--- A value as error messages name it: 'nil', 'the number 3', "a string ('abc')" (longer than 40
-- bytes: the first 37 and '...'), 'a tensor of shape 2x3' ('scalar' for a 0-D tensor), 'a table',
-- 'a boolean', 'a function', ...
function M.describe(v)
  if dode.is_tensor(v) then
    local s = v:shape()
    return 'a tensor of shape ' .. (#s == 0 and 'scalar' or table.concat(s, 'x'))
  end
  local t = type(v)
  if t == 'string' then
    return string.format("a string ('%s')", #v > 40 and v:sub(1, 37) .. '...' or v)
  elseif t == 'number' then
    return 'the number ' .. tostring(v)
  elseif t == 'nil' then
    return 'nil'
  end
  return 'a ' .. t
end

--- True when v is a number other than NaN, inf and -inf (false for anything not a number).
function M.finite(v)
  return type(v) == 'number' and v == v and v ~= math.huge and v ~= -math.huge
end

--- The set of a list's values: set {'a', 'b'} is {a = true, b = true}.
function M.set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

--- A key of table t that is not in the set `allowed` (the first one pairs gives), or nil when
-- every key is allowed. Callers word the error ("unknown option", "unknown field").
function M.unknown_key(t, allowed)
  for k in pairs(t) do
    if not allowed[k] then return k end
  end
  return nil
end

--- The string keys of a set, sorted and joined by ', ' (the "known fields: ..." of a message).
function M.names(allowed)
  local names = {}
  for n in pairs(allowed) do
    if type(n) == 'string' then names[#names + 1] = n end
  end
  table.sort(names)
  return table.concat(names, ', ')
end

--- Writes text to path atomically through dode.write_text (a temporary file, fsync, rename):
-- the file holds the old text or the new, never a part. Returns true, or false and the reason
-- with dode.write_text's own name and position cut off ("cannot write 'x': ..."), for the
-- caller to raise under its own name.
function M.write_file(path, text)
  local ok, err = pcall(dode.write_text, path, text)
  if ok then return true end
  return false, (tostring(err):gsub('^.-dode%.write_text: ', ''))
end

--- The length of s in characters when it is valid UTF-8, else in bytes (a text width estimate).
function M.chars(s)
  return utf8.len(s) or #s
end

return M
