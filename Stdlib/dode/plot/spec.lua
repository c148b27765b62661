--- dode.plot.spec: argument errors and the option checking that every chart kind shares.
--
-- A problem with the arguments raises an ArgError (bad); the function that `public` wraps
-- around a chart kind re-raises it as "dode.plot.<kind>: <message>" at the caller's level, so
-- the message names the user's line. Other errors pass through unchanged.
local dode = require 'dode'
local util = require 'dode.util'

local M = {}

local fmt = string.format
local describe, finite = util.describe, util.finite

local ArgError = {}

--- Raises an argument error with the message fmt(f, ...).
function M.bad(f, ...)
  error(setmetatable({ msg = fmt(f, ...) }, ArgError), 0)
end
local bad = M.bad

--- The public function `name` running impl: its argument errors name `name` and the caller.
function M.public(name, impl)
  return function(...)
    local res = table.pack(pcall(impl, ...))
    if res[1] then return table.unpack(res, 2, res.n) end
    local e = res[2]
    if getmetatable(e) == ArgError then error(name .. ': ' .. e.msg, 2) end
    error(e, 0)
  end
end

--- Fails when table t has a key outside the set `allowed`; `what` names t in the message.
function M.check_keys(t, allowed, what)
  local k = util.unknown_key(t, allowed)
  if k ~= nil then
    bad("%s has an unknown field '%s' (known fields: %s)", what, tostring(k), util.names(allowed))
  end
end

---------------------------------------------------------------------------------------------
-- Values.

local function flatten_tensor(v, what)
  local shape = v:shape()
  if #shape == 1 then return v:totable() end
  if #shape == 2 and (shape[1] == 1 or shape[2] == 1) then
    local out = {}
    for _, row in ipairs(v:totable()) do
      for _, x in ipairs(row) do out[#out + 1] = x end
    end
    return out
  end
  bad('%s must be a list of numbers or a 1-D tensor (got %s)', what, describe(v))
end

--- A list of numbers from a list or a 1-D tensor (also 1xN and Nx1).
function M.numbers(v, what)
  if dode.is_tensor(v) then return flatten_tensor(v, what) end
  if type(v) ~= 'table' then
    bad('%s must be a list of numbers or a 1-D tensor (got %s)', what, describe(v))
  end
  for i = 1, #v do
    if type(v[i]) ~= 'number' then bad('%s[%d] must be a number (got %s)', what, i, describe(v[i])) end
  end
  return v
end

--- A list of {x, y} pairs from such a list or an Nx2 tensor.
function M.pairs_of(v, what)
  local expected = '%s must be an Nx2 tensor or a list of {x, y} pairs (got %s)'
  if dode.is_tensor(v) then
    local s = v:shape()
    if #s ~= 2 or s[2] ~= 2 then bad(expected, what, describe(v)) end
    return v:totable()
  end
  if type(v) ~= 'table' then bad(expected, what, describe(v)) end
  for i = 1, #v do
    local p = v[i]
    if type(p) ~= 'table' or type(p[1]) ~= 'number' or type(p[2]) ~= 'number' then
      bad('%s[%d] must be a pair {x, y} of numbers (got %s)', what, i, describe(p))
    end
  end
  return v
end

--- A string (a number is turned into one), or nil.
function M.opt_string(v, what)
  if v == nil then return nil end
  if type(v) ~= 'string' and type(v) ~= 'number' then bad('%s must be a string (got %s)', what, describe(v)) end
  return tostring(v)
end

--- A finite number >= lo, or `default` when v is nil.
function M.opt_number(v, what, lo, default)
  if v == nil then return default end
  if type(v) ~= 'number' or not finite(v) or v < lo then
    bad('%s must be a number >= %s (got %s)', what, tostring(lo), describe(v))
  end
  return v
end

--- A boolean, or `default` when v is nil.
function M.opt_bool(v, what, default)
  if v == nil then return default end
  if type(v) ~= 'boolean' then bad('%s must be true or false (got %s)', what, describe(v)) end
  return v
end

--- Axis limits {low, high} (a copy), positive on a log axis; nil when v is nil.
function M.opt_limits(v, what, log)
  if v == nil then return nil end
  if type(v) ~= 'table' or type(v[1]) ~= 'number' or type(v[2]) ~= 'number'
      or not finite(v[1]) or not finite(v[2]) or not (v[1] < v[2]) then
    bad('%s must be {low, high} with low < high (got %s)', what, describe(v))
  end
  if log and v[1] <= 0 then
    bad('%s must be positive on a log axis (got {%s, %s})', what, tostring(v[1]), tostring(v[2]))
  end
  return { v[1], v[2] }
end

--- A colour: a palette index (1, 2, ..., cycling through `palette`), #rgb, #rrggbb or a name.
function M.colour(v, what, palette)
  local expected = '%s must be a palette index (1, 2, ...) or a colour such as #1f77b4 (got %s)'
  if type(v) == 'number' then
    if not finite(v) or v ~= math.floor(v) or v < 1 then bad(expected, what, describe(v)) end
    return palette[(math.floor(v) - 1) % #palette + 1]
  end
  if type(v) == 'string' and (v:match('^#%x%x%x$') or v:match('^#%x%x%x%x%x%x$') or v:match('^%a+$')) then
    return v
  end
  bad(expected, what, describe(v))
end

---------------------------------------------------------------------------------------------
-- Options of every chart kind.

local COMMON = { 'series', 'title', 'xlabel', 'ylabel', 'width', 'height', 'path', 'legend', 'xlim', 'ylim' }

--- Checks the options every chart kind takes (and allows the names in `extra`, which the chart
-- kind checks itself); returns {title =, xlabel =, ylabel =, width =, height =, path =, legend =}.
-- spec.series is checked to be a non-empty list; its entries are left to the chart kind.
function M.common(spec, extra)
  if type(spec) ~= 'table' then
    bad('expected a table of options {series = {...}, ...} (got %s)', describe(spec))
  end
  local allowed = util.set(COMMON)
  for _, k in ipairs(extra) do allowed[k] = true end
  M.check_keys(spec, allowed, 'the options table')
  local s = {}
  s.title = M.opt_string(spec.title, 'title')
  s.xlabel = M.opt_string(spec.xlabel, 'xlabel')
  s.ylabel = M.opt_string(spec.ylabel, 'ylabel')
  s.width = M.opt_number(spec.width, 'width', 100, 640)
  s.height = M.opt_number(spec.height, 'height', 80, 420)
  if spec.path ~= nil and (type(spec.path) ~= 'string' or spec.path == '') then
    bad('path must be a file name such as "plot.svg" (got %s)', describe(spec.path))
  end
  s.path = spec.path
  local lg = spec.legend
  if lg == nil or lg == true then lg = 'right' end
  if lg ~= false and lg ~= 'right' and lg ~= 'inside' and lg ~= 'bottom' then
    bad("legend must be 'right', 'inside', 'bottom' or false (got %s)", describe(spec.legend))
  end
  s.legend = lg
  local series = spec.series
  if type(series) ~= 'table' or dode.is_tensor(series) or #series == 0 then
    bad('series must be a non-empty list of series tables (got %s)',
      type(series) == 'table' and 'an empty table' or describe(series))
  end
  for k in pairs(series) do
    if math.type(k) ~= 'integer' or k < 1 or k > #series then
      bad("series must be a list {s1, s2, ...} (found the key '%s')", tostring(k))
    end
  end
  return s
end

---------------------------------------------------------------------------------------------
-- Fields of every series.

--- Checks that series i is a table (`shape` shows its fields in the message) with only the
-- fields in the set `keys`; returns its name in messages, 'series[i]'.
function M.series_table(ser, i, shape, keys)
  local what = fmt('series[%d]', i)
  if type(ser) ~= 'table' or dode.is_tensor(ser) then
    bad('%s must be a table %s (got %s)', what, shape, describe(ser))
  end
  M.check_keys(ser, keys, what)
  return what
end

--- Checks a series' `group` (a string or a number, or nil).
function M.check_group(v, what)
  if v ~= nil and type(v) ~= 'string' and type(v) ~= 'number' then
    bad('%s.group must be a string (got %s)', what, describe(v))
  end
end

--- The name of series i: its `name`, or 'series i'.
function M.series_name(v, what, i)
  return M.opt_string(v, what .. '.name') or ('series ' .. i)
end

--- The colour a series asks for, or nil (the chart then picks one).
function M.series_colour(v, what, palette)
  if v == nil then return nil end
  return M.colour(v, what .. '.color', palette)
end

return M
