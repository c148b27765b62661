--- dode.plot.axes: axis domains, ticks and tick labels, and the map from data to [0, 1].
--
-- An axis is {lo =, hi =, log =, ticks = {{v =, label =, minor =}, ...}, minor = {v, ...}}:
-- the domain [lo, hi], the labelled ticks (`minor` marks the 2 and 5 of a log decade) and the
-- unlabelled minor tick values.
local util = require 'dode.util'

local M = {}

local floor, ceil, abs = math.floor, math.ceil, math.abs
local function log10(v) return math.log(v, 10) end
local fmt = string.format
local finite = util.finite

local EPS = 1e-9

--- A step of 1, 2 or 5 times a power of ten that cuts `range` into about `target` parts.
local function nice_step(range, target)
  local raw = range / target
  local mag = 10 ^ floor(log10(raw))
  local f = raw / mag
  local n = f < 1.5 and 1 or f < 3 and 2 or f < 7 and 5 or 10
  return n * mag
end

--- '1.50e+07' as '1.5e7'.
local function compact_e(s)
  local m, e = s:match('^(.-)e(.*)$')
  if m:find('.', 1, true) then m = m:gsub('0+$', ''):gsub('%.$', '') end
  return m .. 'e' .. tostring(tonumber(e))
end

--- The label of tick v on a linear axis with this step whose values reach `mag` in size.
local function linear_label(v, step, mag)
  if abs(v) < step * 1e-6 then return '0' end
  local estep = floor(log10(step) + EPS)
  if mag >= 1e6 or step < 1e-4 then
    local ev = floor(log10(abs(v)) + EPS)
    return compact_e(fmt('%.' .. math.max(0, ev - estep) .. 'e', v))
  end
  return fmt('%.' .. math.max(0, -estep) .. 'f', v)
end

--- Linear axis over [lo, hi] (nil when there is no data), widened by `pad` (a fraction of
-- the range) on each side; the ticks fall inside the domain.
function M.linear(lo, hi, target, pad)
  if lo == nil then lo, hi = 0, 1 end
  if not (hi > lo) then
    local d = lo == 0 and 1 or abs(lo) * 0.1
    lo, hi = lo - d, hi + d
  end
  if not finite(hi - lo) then lo, hi = lo / 2, hi / 2 end
  if pad and pad > 0 then
    local d = (hi - lo) * pad
    lo, hi = lo - d, hi + d
  end
  local step = nice_step(hi - lo, target)
  local ax = { lo = lo, hi = hi, log = false, ticks = {}, minor = {} }
  local mag = math.max(abs(lo), abs(hi))
  local i0, i1 = ceil(lo / step - EPS), floor(hi / step + EPS)
  if i1 - i0 > 50 then i1 = i0 + 50 end
  for i = i0, i1 do
    local v = i * step
    ax.ticks[#ax.ticks + 1] = { v = v, label = linear_label(v, step, mag) }
  end
  return ax
end

--- Log axis over [lo, hi] (positive; nil when there is no data), widened by `pad` (a fraction
-- of the span in decades) on each side. Major ticks at decades 10^k, minor ticks at m*10^k;
-- narrow spans also label 2*10^k and 5*10^k (or every m when under a decade).
function M.log(lo, hi, pad)
  if lo == nil then lo, hi = 1, 10 end
  local a, b = log10(lo), log10(hi)
  if not (b > a) then a, b = a - 0.5, b + 0.5 end
  if pad and pad > 0 then
    local d = (b - a) * pad
    a, b = a - d, b + d
  end
  lo, hi = 10.0 ^ a, 10.0 ^ b
  local ax = { lo = lo, hi = hi, log = true, ticks = {}, minor = {} }
  local span = b - a
  local ka, kb = floor(a + EPS), ceil(b - EPS)
  local every = math.max(1, ceil(span / 8))
  local inside = function(v) return v >= lo * (1 - 1e-9) and v <= hi * (1 + 1e-9) end
  local labelled = {}  -- {m, k}
  for k = ka, kb do
    local v = 10.0 ^ k
    if inside(v) then
      if k % every == 0 then labelled[#labelled + 1] = { 1, k } else ax.minor[#ax.minor + 1] = v end
    end
    if span <= 6 then
      for m = 2, 9 do
        local mv = m * 10.0 ^ k
        if inside(mv) then
          if span < 1 or (span <= 2.2 and (m == 2 or m == 5)) then
            labelled[#labelled + 1] = { m, k }
          else
            ax.minor[#ax.minor + 1] = mv
          end
        end
      end
    end
  end
  if #labelled < 2 then
    -- Less than one step of the 1-2-..-9 ladder: plain linear ticks, placed on the log scale.
    local lin = M.linear(lo, hi, 4, 0)
    ax.ticks, ax.minor = lin.ticks, {}
    return ax
  end
  -- Plain decimals (0.001, 100) when every label stays short, else 1e-5 style throughout.
  local kmin, kmax = math.huge, -math.huge
  for _, p in ipairs(labelled) do kmin, kmax = math.min(kmin, p[2]), math.max(kmax, p[2]) end
  local plain = kmin >= -4 and kmax <= 5
  for _, p in ipairs(labelled) do
    local m, k = p[1], p[2]
    local label
    if not plain then
      label = fmt('%de%d', m, k)
    elseif k >= 0 then
      label = fmt('%.0f', m * 10.0 ^ k)
    else
      label = fmt('%.' .. (-k) .. 'f', m * 10.0 ^ k)
    end
    ax.ticks[#ax.ticks + 1] = { v = m * 10.0 ^ k, label = label, minor = m ~= 1 }
  end
  table.sort(ax.ticks, function(p, q) return p.v < q.v end)
  return ax
end

--- The axis for a chart: over the limits `lim` ({low, high}) when given, else over the data
-- range r ({lo =, hi =}, empty without data) with 4% to spare on each side.
function M.fit(lim, r, log, target)
  if log then
    if lim then return M.log(lim[1], lim[2], 0) end
    return M.log(r.lo, r.hi, 0.04)
  end
  if lim then return M.linear(lim[1], lim[2], target, 0) end
  return M.linear(r.lo, r.hi, target, 0.04)
end

--- How many ticks the x and y axes of a chart this large aim for.
function M.targets(width, height)
  local xtarget = math.max(3, math.min(9, floor((width - 150) / 85)))
  local ytarget = math.max(3, math.min(9, floor((height - 100) / 55)))
  return xtarget, ytarget
end

--- Where v falls on the axis, from 0 (lo) to 1 (hi).
function M.map(ax, v)
  if ax.log then return (log10(v) - log10(ax.lo)) / (log10(ax.hi) - log10(ax.lo)) end
  return (v - ax.lo) / (ax.hi - ax.lo)
end

return M
