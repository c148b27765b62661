--- dode.plot: line charts and scatter plots written as standalone SVG files.
--
--   local plot = require 'dode.plot'
--   local chart = plot.line{
--     title = 'RMSE against the teacher', xlabel = 'NFE', ylabel = 'RMSE', xlog = true, ylog = true,
--     series = {
--       { name = 'DDIM',   group = 'ddim', x = nfe, y = rmse_base, marker = true },
--       { name = 'D-DDIM', group = 'ddim', x = nfe, y = rmse_d, marker = true, style = 'dashed' },
--     },
--     path = 'out/rmse.svg',
--   }
--   plot.scatter{ series = { { name = 'teacher', points = samples } }, path = 'out/samples.svg' }
--
-- Both return a chart object: chart.svg is the SVG text, chart:save(path) writes it, a notebook
-- shows it inline and a terminal prints a one-line summary. Values may be Lua lists or tensors.
-- Points that cannot be drawn (NaN, inf, or a value <= 0 on a log axis) are skipped and
-- counted: chart.skipped, and chart.skipped_per_series for each series. Series that share a
-- `group` share a colour, so a base solver (solid) and its distilled D variant (dashed) read as
-- a pair. The legend sits right of the plot (`legend = 'inside' | 'bottom' | false` to change);
-- one too wide for the right side moves below the chart, which grows taller. Files are written atomically.
local dode = require 'dode'
local help = require 'dode.help'
local display = require 'dode.display'

local M = {}

--- The colour cycle (ten colours that stay apart from each other and on white).
M.palette = {
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
}

local floor, ceil, abs, log10 = math.floor, math.ceil, math.abs, function(v) return math.log(v, 10) end
local fmt, concat = string.format, table.concat

local FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif'
local EPS = 1e-9

---------------------------------------------------------------------------------------------
-- Errors: argument problems raise an ArgError inside; the public wrapper re-raises it with the
-- function name at the caller's level.

local ArgError = {}

local function bad(f, ...)
  error(setmetatable({ msg = fmt(f, ...) }, ArgError), 0)
end

local function public(name, impl)
  return function(...)
    local res = table.pack(pcall(impl, ...))
    if res[1] then return table.unpack(res, 2, res.n) end
    local e = res[2]
    if getmetatable(e) == ArgError then error(name .. ': ' .. e.msg, 2) end
    error(e, 0)
  end
end

local function describe(v)
  if dode.is_tensor(v) then
    local s = v:shape()
    return 'a tensor of shape ' .. (#s == 0 and 'scalar' or concat(s, 'x'))
  end
  local t = type(v)
  if t == 'string' then
    return fmt("a string ('%s')", #v > 40 and v:sub(1, 37) .. '...' or v)
  elseif t == 'number' then
    return 'the number ' .. tostring(v)
  elseif t == 'nil' then
    return 'nil'
  end
  return 'a ' .. t
end

local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

local function check_keys(t, allowed, what)
  for k in pairs(t) do
    if not allowed[k] then
      local names = {}
      for n in pairs(allowed) do if type(n) == 'string' then names[#names + 1] = n end end
      table.sort(names)
      bad("%s has an unknown field '%s' (known fields: %s)", what, tostring(k), concat(names, ', '))
    end
  end
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

---------------------------------------------------------------------------------------------
-- XML text.

--- Makes a string safe as XML character data or an attribute value: valid UTF-8 (invalid bytes
-- become U+FFFD), no control characters XML 1.0 forbids, and & < > " ' as entities.
function M.escape(s)
  s = tostring(s)
  if not utf8.len(s) then
    local out, i, n = {}, 1, #s
    while i <= n do
      local ok, bad_at = utf8.len(s, i)
      if ok then out[#out + 1] = s:sub(i); break end
      out[#out + 1] = s:sub(i, bad_at - 1)
      out[#out + 1] = '\u{FFFD}'
      i = bad_at + 1
    end
    s = concat(out)
  end
  s = s:gsub('[%z\1-\8\11\12\14-\31\127]', '')
  return (s:gsub('[&<>"\']', { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&apos;' }))
end
local esc = M.escape

--- Number as a short SVG coordinate.
local function num(v)
  local s = fmt('%.2f', v):gsub('%.?0+$', '')
  if s == '-0' then return '0' end
  return s
end

local function text_width(s, size)
  return (utf8.len(s) or #s) * size * 0.6
end

local function shorten(s, n)
  if (utf8.len(s) or #s) <= n then return s end
  local cut = utf8.offset(s, n) or n
  return s:sub(1, cut - 1) .. '\u{2026}'
end

---------------------------------------------------------------------------------------------
-- Input values.

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

local function numbers(v, what)
  if dode.is_tensor(v) then return flatten_tensor(v, what) end
  if type(v) ~= 'table' then bad('%s must be a list of numbers or a 1-D tensor (got %s)', what, describe(v)) end
  for i = 1, #v do
    if type(v[i]) ~= 'number' then bad('%s[%d] must be a number (got %s)', what, i, describe(v[i])) end
  end
  return v
end

local function pairs_of(v, what)
  if dode.is_tensor(v) then
    local s = v:shape()
    if #s ~= 2 or s[2] ~= 2 then bad('%s must be an Nx2 tensor or a list of {x, y} pairs (got %s)', what, describe(v)) end
    return v:totable()
  end
  if type(v) ~= 'table' then bad('%s must be an Nx2 tensor or a list of {x, y} pairs (got %s)', what, describe(v)) end
  for i = 1, #v do
    local p = v[i]
    if type(p) ~= 'table' or type(p[1]) ~= 'number' or type(p[2]) ~= 'number' then
      bad('%s[%d] must be a pair {x, y} of numbers (got %s)', what, i, describe(p))
    end
  end
  return v
end

local function opt_string(v, what)
  if v == nil then return nil end
  if type(v) ~= 'string' and type(v) ~= 'number' then bad('%s must be a string (got %s)', what, describe(v)) end
  return tostring(v)
end

local function opt_number(v, what, lo, default)
  if v == nil then return default end
  if type(v) ~= 'number' or not finite(v) or v < lo then
    bad('%s must be a number >= %s (got %s)', what, tostring(lo), describe(v))
  end
  return v
end

local function opt_bool(v, what, default)
  if v == nil then return default end
  if type(v) ~= 'boolean' then bad('%s must be true or false (got %s)', what, describe(v)) end
  return v
end

local function opt_limits(v, what, log)
  if v == nil then return nil end
  if type(v) ~= 'table' or type(v[1]) ~= 'number' or type(v[2]) ~= 'number'
      or not finite(v[1]) or not finite(v[2]) or not (v[1] < v[2]) then
    bad('%s must be {low, high} with low < high (got %s)', what, describe(v))
  end
  if log and v[1] <= 0 then bad('%s must be positive on a log axis (got {%s, %s})', what, tostring(v[1]), tostring(v[2])) end
  return { v[1], v[2] }
end

local function colour(v, what)
  if type(v) == 'number' then
    if not finite(v) or v ~= floor(v) or v < 1 then
      bad('%s must be a palette index (1, 2, ...) or a colour such as #1f77b4 (got %s)', what, describe(v))
    end
    return M.palette[(floor(v) - 1) % #M.palette + 1]
  end
  if type(v) == 'string' and (v:match('^#%x%x%x$') or v:match('^#%x%x%x%x%x%x$') or v:match('^%a+$')) then
    return v
  end
  bad('%s must be a palette index (1, 2, ...) or a colour such as #1f77b4 (got %s)', what, describe(v))
end

---------------------------------------------------------------------------------------------
-- Axes: a domain [lo, hi], major ticks {v=, label=}, minor tick values, and a map to [0, 1].

local function nice_step(range, target)
  local raw = range / target
  local mag = 10 ^ floor(log10(raw))
  local f = raw / mag
  local n = f < 1.5 and 1 or f < 3 and 2 or f < 7 and 5 or 10
  return n * mag
end

local function compact_e(s)
  local m, e = s:match('^(.-)e(.*)$')
  if m:find('.', 1, true) then m = m:gsub('0+$', ''):gsub('%.$', '') end
  return m .. 'e' .. tostring(tonumber(e))
end

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
local function linear_axis(lo, hi, target, pad)
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
local function log_axis(lo, hi, pad)
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
    local lin = linear_axis(lo, hi, 4, 0)
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

local function axis_map(ax, v)
  if ax.log then return (log10(v) - log10(ax.lo)) / (log10(ax.hi) - log10(ax.lo)) end
  return (v - ax.lo) / (ax.hi - ax.lo)
end

---------------------------------------------------------------------------------------------
-- Page layout and the shared frame (background, grid, axes, labels, title).

local TICK_FONT, LABEL_FONT, TITLE_FONT, LEGEND_FONT = 11, 12.5, 15, 12
local LEGEND_ROW = 18

local function max_label_width(ax)
  local w = 0
  for _, t in ipairs(ax.ticks) do w = math.max(w, text_width(t.label, TICK_FONT)) end
  return w
end

--- Legend size for entries (display names): `per_col` rows per column, filled column by column.
local function legend_box(entries, per_col, sample_w)
  local tw = 0
  for _, e in ipairs(entries) do tw = math.max(tw, text_width(e.label, LEGEND_FONT)) end
  local col_w = sample_w + 8 + tw + 14
  per_col = math.max(1, math.min(per_col, #entries))
  local cols = ceil(#entries / per_col)
  return { w = cols * col_w + 10, h = per_col * LEGEND_ROW + 10, col_w = col_w, per_col = per_col, sample_w = sample_w }
end

--- Margins, plot area and legend placement. A right-hand legend that would leave the plot less
-- than 55% of the width moves below the chart, and the picture grows taller to hold it.
local function layout(spec, xax, yax, entries, sample_w)
  local W, H = spec.width, spec.height
  local L = { W = W, H = H }
  L.top = spec.title and 36 or 14
  L.left = 10 + (spec.ylabel and 22 or 0) + max_label_width(yax) + 9
  L.bottom = 10 + 20 + (spec.xlabel and 22 or 0)
  local last = xax.ticks[#xax.ticks]
  local right = math.max(20, last and text_width(last.label, TICK_FONT) / 2 + 6 or 0)
  local mode = #entries > 0 and spec.legend or false
  if mode == 'right' or mode == 'inside' then
    local avail_h = H - L.top - L.bottom
    L.legend = legend_box(entries, floor((avail_h - 12) / LEGEND_ROW), sample_w)
    if mode == 'right' then
      if W - L.left - (L.legend.w + 16) < 0.55 * W then
        mode = 'bottom'
      else
        right = math.max(right, L.legend.w + 16)
      end
    end
  end
  if mode == 'bottom' then
    local one = legend_box(entries, 1, sample_w)
    local cols = math.max(1, math.min(#entries, floor((W - 20) / one.col_w)))
    L.legend = legend_box(entries, ceil(#entries / cols), sample_w)
    L.legend_y = H - 4
    L.H = H + L.legend.h + 8
  end
  L.legend_mode = mode
  L.right = right
  L.x0, L.x1 = L.left, W - right
  L.y0, L.y1 = L.top, H - L.bottom
  if L.x1 - L.x0 < 40 or L.y1 - L.y0 < 40 then
    bad('width %s and height %s leave no room for the plot (make the chart larger or names shorter)', tostring(W), tostring(H))
  end
  return L
end

local function px(L, xax, v) return L.x0 + axis_map(xax, v) * (L.x1 - L.x0) end
local function py(L, yax, v) return L.y1 - axis_map(yax, v) * (L.y1 - L.y0) end

local clip_counter = 0

--- A short hash of the chart's text, so clip-path ids differ between charts inlined into one
-- page while the output stays the same from run to run.
local function hash(parts)
  local h = 5381
  for _, p in ipairs(parts) do
    for i = 1, #p do h = (h * 33 + p:byte(i)) % 4294967296 end
  end
  return fmt('%08x', h)
end

local function frame_open(out, spec, L, names)
  local W, H = L.W, L.H
  clip_counter = clip_counter + 1
  L.clip = fmt('dode-plot-%d-%s', clip_counter, hash { spec.title or '', spec.xlabel or '', spec.ylabel or '', concat(names, '\0') })
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>\n'
  out[#out + 1] = fmt('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" font-family="%s" font-size="%s">\n',
    num(W), num(H), num(W), num(H), FONT, TICK_FONT)
  if spec.title then out[#out + 1] = '<title>' .. esc(spec.title) .. '</title>\n' end
  out[#out + 1] = '<rect x="0" y="0" width="100%" height="100%" fill="white"/>\n'
  local pad = 5
  out[#out + 1] = fmt('<defs><clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>\n',
    L.clip, num(L.x0 - pad), num(L.y0 - pad), num(L.x1 - L.x0 + 2 * pad), num(L.y1 - L.y0 + 2 * pad))
end

local function grid(out, L, xax, yax)
  out[#out + 1] = '<g class="grid" fill="none">\n'
  local function vline(x, c) out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>\n', num(x), num(L.y0), num(x), num(L.y1), c) end
  local function hline(y, c) out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>\n', num(L.x0), num(y), num(L.x1), num(y), c) end
  for _, v in ipairs(xax.minor) do vline(px(L, xax, v), '#f1f1f1') end
  for _, v in ipairs(yax.minor) do hline(py(L, yax, v), '#f1f1f1') end
  for _, t in ipairs(xax.ticks) do vline(px(L, xax, t.v), t.minor and '#ebebeb' or '#e0e0e0') end
  for _, t in ipairs(yax.ticks) do hline(py(L, yax, t.v), t.minor and '#ebebeb' or '#e0e0e0') end
  out[#out + 1] = '</g>\n'
end

local function axes(out, spec, L, xax, yax)
  out[#out + 1] = fmt('<rect class="frame" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#444" stroke-width="1"/>\n',
    num(L.x0), num(L.y0), num(L.x1 - L.x0), num(L.y1 - L.y0))
  out[#out + 1] = '<g class="ticks" stroke="#444" stroke-width="1">\n'
  for _, v in ipairs(xax.minor) do
    local x = px(L, xax, v)
    out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', num(x), num(L.y1), num(x), num(L.y1 + 3))
  end
  for _, v in ipairs(yax.minor) do
    local y = py(L, yax, v)
    out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', num(L.x0 - 3), num(y), num(L.x0), num(y))
  end
  for _, t in ipairs(xax.ticks) do
    local x = px(L, xax, t.v)
    out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', num(x), num(L.y1), num(x), num(L.y1 + 5))
  end
  for _, t in ipairs(yax.ticks) do
    local y = py(L, yax, t.v)
    out[#out + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n', num(L.x0 - 5), num(y), num(L.x0), num(y))
  end
  out[#out + 1] = '</g>\n'
  -- Tick labels; on x, thin them out when neighbours would overlap.
  out[#out + 1] = '<g class="tick-labels" fill="#333">\n'
  local spacing = math.huge
  for i = 2, #xax.ticks do
    spacing = math.min(spacing, px(L, xax, xax.ticks[i].v) - px(L, xax, xax.ticks[i - 1].v))
  end
  local every = 1
  if spacing < math.huge then every = math.max(1, ceil((max_label_width(xax) + 8) / math.max(spacing, 1))) end
  for i, t in ipairs(xax.ticks) do
    if (i - 1) % every == 0 then
      out[#out + 1] = fmt('<text x="%s" y="%s" text-anchor="middle">%s</text>\n',
        num(px(L, xax, t.v)), num(L.y1 + 18), esc(t.label))
    end
  end
  local yspacing = math.huge
  for i = 2, #yax.ticks do
    yspacing = math.min(yspacing, py(L, yax, yax.ticks[i - 1].v) - py(L, yax, yax.ticks[i].v))
  end
  local yevery = yspacing < math.huge and math.max(1, ceil((TICK_FONT + 3) / math.max(yspacing, 1))) or 1
  for i, t in ipairs(yax.ticks) do
    if (i - 1) % yevery == 0 then
      out[#out + 1] = fmt('<text x="%s" y="%s" text-anchor="end">%s</text>\n',
        num(L.x0 - 8), num(py(L, yax, t.v) + 4), esc(t.label))
    end
  end
  out[#out + 1] = '</g>\n'
  local cx, cy = (L.x0 + L.x1) / 2, (L.y0 + L.y1) / 2
  if spec.xlabel then
    out[#out + 1] = fmt('<text class="xlabel" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#222">%s</text>\n',
      num(cx), num(L.y1 + 40), LABEL_FONT, esc(spec.xlabel))
  end
  if spec.ylabel then
    local x = 10 + LABEL_FONT - 1
    out[#out + 1] = fmt('<text class="ylabel" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#222" transform="rotate(-90 %s %s)">%s</text>\n',
      num(x), num(cy), LABEL_FONT, num(x), num(cy), esc(spec.ylabel))
  end
  if spec.title then
    out[#out + 1] = fmt('<text class="title" x="%s" y="%s" text-anchor="middle" font-size="%s" font-weight="bold" fill="#111">%s</text>\n',
      num(spec.width / 2), 23, TITLE_FONT, esc(spec.title))
  end
end

--- Draws the legend; `sample(out, entry, x, y)` draws an entry's swatch spanning [x, x + sample_w].
local function legend(out, spec, L, entries, sample)
  local box = L.legend
  if not box then return end
  local bx, by
  if L.legend_mode == 'right' then
    bx, by = L.x1 + 12, L.y0
  elseif L.legend_mode == 'bottom' then
    bx, by = (L.W - box.w) / 2, L.legend_y
  else
    bx, by = L.x1 - box.w - 8, L.y0 + 8
  end
  out[#out + 1] = '<g class="legend">\n'
  out[#out + 1] = fmt('<rect x="%s" y="%s" width="%s" height="%s" fill="white" fill-opacity="0.9" stroke="#cccccc" rx="3"/>\n',
    num(bx), num(by), num(box.w), num(box.h))
  for i, e in ipairs(entries) do
    local col, row = floor((i - 1) / box.per_col), (i - 1) % box.per_col
    local x = bx + 8 + col * box.col_w
    local y = by + 5 + row * LEGEND_ROW + LEGEND_ROW / 2
    out[#out + 1] = '<g>'
    if e.label ~= e.full then out[#out + 1] = '<title>' .. esc(e.full) .. '</title>' end
    sample(out, e, x, y)
    out[#out + 1] = fmt('<text x="%s" y="%s" font-size="%s" fill="#222">%s</text></g>\n',
      num(x + box.sample_w + 8), num(y + 4), LEGEND_FONT, esc(e.label))
  end
  out[#out + 1] = '</g>\n'
end

--- A note in the middle of a chart with nothing to draw.
local function no_data(out, L, skipped)
  out[#out + 1] = fmt('<text class="no-data" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#888">%s</text>\n',
    num((L.x0 + L.x1) / 2), num((L.y0 + L.y1) / 2), LABEL_FONT,
    skipped > 0 and fmt('no data to draw (%d point%s skipped)', skipped, skipped == 1 and '' or 's') or 'no data to draw')
end

-- Files are written through dode.write_text (temporary file, fsync, rename).
local function write_atomic(path, text)
  local ok, err = pcall(dode.write_text, path, text)
  if not ok then bad('%s', (tostring(err):gsub('^.-dode%.write_text: ', ''))) end
end

---------------------------------------------------------------------------------------------
-- Common option handling.

local COMMON = { 'series', 'title', 'xlabel', 'ylabel', 'width', 'height', 'path', 'legend', 'xlim', 'ylim' }

local function common_spec(spec, extra)
  if type(spec) ~= 'table' then bad('expected a table of options {series = {...}, ...} (got %s)', describe(spec)) end
  local allowed = set(COMMON)
  for _, k in ipairs(extra) do allowed[k] = true end
  check_keys(spec, allowed, 'the options table')
  local s = {}
  s.title = opt_string(spec.title, 'title')
  s.xlabel = opt_string(spec.xlabel, 'xlabel')
  s.ylabel = opt_string(spec.ylabel, 'ylabel')
  s.width = opt_number(spec.width, 'width', 100, 640)
  s.height = opt_number(spec.height, 'height', 80, 420)
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
    bad('series must be a non-empty list of series tables (got %s)', type(series) == 'table' and 'an empty table' or describe(series))
  end
  for k in pairs(series) do
    if math.type(k) ~= 'integer' or k < 1 or k > #series then
      bad("series must be a list {s1, s2, ...} (found the key '%s')", tostring(k))
    end
  end
  return s
end

--- Assigns colours: an explicit `color` wins; series sharing a `group` share one colour;
-- everything else takes the next palette colour.
local function assign_colours(list)
  local next_i, by_group = 0, {}
  for _, s in ipairs(list) do
    if not s.color then
      if s.group ~= nil and by_group[s.group] then
        s.color = by_group[s.group]
      else
        next_i = next_i + 1
        s.color = M.palette[(next_i - 1) % #M.palette + 1]
      end
    end
    if s.group ~= nil and not by_group[s.group] then by_group[s.group] = s.color end
  end
end

local function range_update(r, v)
  if r.lo == nil or v < r.lo then r.lo = v end
  if r.hi == nil or v > r.hi then r.hi = v end
end

---------------------------------------------------------------------------------------------
-- Markers.

local MARKERS = set { 'circle', 'square', 'triangle', 'diamond' }

local function marker_svg(shape, x, y, r)
  if shape == 'square' then
    return fmt('<rect x="%s" y="%s" width="%s" height="%s"/>', num(x - r * 0.9), num(y - r * 0.9), num(r * 1.8), num(r * 1.8))
  elseif shape == 'triangle' then
    return fmt('<path d="M%s %sL%s %sL%s %sZ"/>', num(x), num(y - r * 1.15), num(x + r), num(y + r * 0.7), num(x - r), num(y + r * 0.7))
  elseif shape == 'diamond' then
    return fmt('<path d="M%s %sL%s %sL%s %sL%s %sZ"/>', num(x), num(y - r * 1.2), num(x + r), num(y), num(x), num(y + r * 1.2), num(x - r), num(y))
  end
  return fmt('<circle cx="%s" cy="%s" r="%s"/>', num(x), num(y), num(r))
end

local DASH = { solid = nil, dashed = '7,4', dotted = '2,3' }

---------------------------------------------------------------------------------------------
-- plot.line

local LINE_SERIES_KEYS = set { 'name', 'x', 'y', 'style', 'marker', 'color', 'group', 'width' }

local function line_impl(spec)
  local s = common_spec(spec, { 'xlog', 'ylog' })
  s.xlog = opt_bool(spec.xlog, 'xlog', false)
  s.ylog = opt_bool(spec.ylog, 'ylog', false)
  s.xlim = opt_limits(spec.xlim, 'xlim', s.xlog)
  s.ylim = opt_limits(spec.ylim, 'ylim', s.ylog)

  local list = {}
  for i, ser in ipairs(spec.series) do
    local what = fmt('series[%d]', i)
    if type(ser) ~= 'table' or dode.is_tensor(ser) then bad('%s must be a table {name =, x =, y =} (got %s)', what, describe(ser)) end
    check_keys(ser, LINE_SERIES_KEYS, what)
    if ser.y == nil then bad('%s.y is missing (the values to plot)', what) end
    local y = numbers(ser.y, what .. '.y')
    local x
    if ser.x == nil then
      x = {}
      for j = 1, #y do x[j] = j end
    else
      x = numbers(ser.x, what .. '.x')
    end
    if #x ~= #y then bad('%s.x has %d values but %s.y has %d (they must have the same length)', what, #x, what, #y) end
    local style = ser.style == nil and 'solid' or ser.style
    if not (style == 'solid' or style == 'dashed' or style == 'dotted') then
      bad("%s.style must be 'solid', 'dashed' or 'dotted' (got %s)", what, describe(ser.style))
    end
    local marker = ser.marker
    if marker == true then marker = 'circle' end
    if marker ~= nil and marker ~= false and not MARKERS[marker] then
      bad("%s.marker must be true, false or one of 'circle', 'square', 'triangle', 'diamond' (got %s)", what, describe(ser.marker))
    end
    if ser.group ~= nil and type(ser.group) ~= 'string' and type(ser.group) ~= 'number' then
      bad('%s.group must be a string (got %s)', what, describe(ser.group))
    end
    list[i] = {
      name = opt_string(ser.name, what .. '.name') or ('series ' .. i),
      x = x, y = y, style = style, marker = marker or nil,
      color = ser.color ~= nil and colour(ser.color, what .. '.color') or nil,
      group = ser.group,
      lw = opt_number(ser.width, what .. '.width', 0, 2),
    }
  end
  assign_colours(list)

  -- Points that can be drawn, and the data ranges.
  local skipped, per_series = 0, {}
  local xr, yr = {}, {}
  for i, ser in ipairs(list) do
    local ok, n = {}, 0
    for j = 1, #ser.y do
      local xv, yv = ser.x[j], ser.y[j]
      local good = finite(xv) and finite(yv) and (not s.xlog or xv > 0) and (not s.ylog or yv > 0)
      ok[j] = good
      if good then
        range_update(xr, xv); range_update(yr, yv)
      else
        n = n + 1
      end
    end
    ser.ok = ok
    per_series[i] = n
    skipped = skipped + n
  end

  local W, H = s.width, s.height
  local xtarget = math.max(3, math.min(9, floor((W - 150) / 85)))
  local ytarget = math.max(3, math.min(9, floor((H - 100) / 55)))
  local function make_axis(lim, r, log, target)
    if log then
      if lim then return log_axis(lim[1], lim[2], 0) end
      return log_axis(r.lo, r.hi, 0.04)
    end
    if lim then return linear_axis(lim[1], lim[2], target, 0) end
    return linear_axis(r.lo, r.hi, target, 0.04)
  end
  local xax = make_axis(s.xlim, xr, s.xlog, xtarget)
  local yax = make_axis(s.ylim, yr, s.ylog, ytarget)

  local entries = {}
  for _, ser in ipairs(list) do
    entries[#entries + 1] = { label = shorten(ser.name, 40), full = ser.name, ser = ser }
  end
  local L = layout(s, xax, yax, entries, 30)

  local out = {}
  local names = {}
  for i, ser in ipairs(list) do names[i] = ser.name end
  frame_open(out, s, L, names)
  grid(out, L, xax, yax)
  out[#out + 1] = fmt('<g class="data" clip-path="url(#%s)" fill="none" stroke-linejoin="round" stroke-linecap="round">\n', L.clip)
  for _, ser in ipairs(list) do
    out[#out + 1] = '<g class="series"><title>' .. esc(ser.name) .. '</title>\n'
    local dash = DASH[ser.style]
    local attrs = fmt('stroke="%s" stroke-width="%s"%s', esc(ser.color), num(ser.lw), dash and fmt(' stroke-dasharray="%s"', dash) or '')
    local seg, valid = {}, 0
    local function flush()
      if #seg >= 2 then
        out[#out + 1] = fmt('<polyline %s points="%s"/>\n', attrs, concat(seg, ' '))
      end
      seg = {}
    end
    for j = 1, #ser.y do
      if ser.ok[j] then
        valid = valid + 1
        seg[#seg + 1] = num(px(L, xax, ser.x[j])) .. ',' .. num(py(L, yax, ser.y[j]))
      else
        flush()
      end
    end
    flush()
    local shape = ser.marker or (valid == 1 and 'circle') or nil
    if shape then
      local hollow = ser.style ~= 'solid'
      out[#out + 1] = fmt('<g fill="%s" stroke="%s" stroke-width="1.5">', hollow and 'white' or esc(ser.color), esc(ser.color))
      for j = 1, #ser.y do
        if ser.ok[j] then out[#out + 1] = marker_svg(shape, px(L, xax, ser.x[j]), py(L, yax, ser.y[j]), 3.5) end
      end
      out[#out + 1] = '</g>\n'
    end
    out[#out + 1] = '</g>\n'
  end
  out[#out + 1] = '</g>\n'
  if xr.lo == nil then no_data(out, L, skipped) end
  axes(out, s, L, xax, yax)
  legend(out, s, L, entries, function(o, e, x, y)
    local ser = e.ser
    local dash = DASH[ser.style]
    o[#o + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>',
      num(x), num(y), num(x + 30), num(y), esc(ser.color), num(math.max(ser.lw, 1.5)), dash and fmt(' stroke-dasharray="%s"', dash) or '')
    if ser.marker then
      o[#o + 1] = fmt('<g fill="%s" stroke="%s" stroke-width="1.5">%s</g>',
        ser.style ~= 'solid' and 'white' or esc(ser.color), esc(ser.color), marker_svg(ser.marker, x + 15, y, 3.5))
    end
  end)
  out[#out + 1] = '</svg>\n'
  local svg = concat(out)
  if s.path then write_atomic(s.path, svg) end
  -- A chart object: chart.svg is the text; a notebook shows it inline (dode.display).
  return display.chart{ kind = 'line', svg = svg, width = L.W, height = L.H, path = s.path, title = s.title,
    series = #list, skipped = skipped, skipped_per_series = per_series }
end

M.line = public('dode.plot.line', line_impl)

---------------------------------------------------------------------------------------------
-- plot.scatter

local SCATTER_SERIES_KEYS = set { 'name', 'points', 'size', 'alpha', 'color', 'group' }

local function scatter_impl(spec)
  local s = common_spec(spec, { 'equal' })
  s.equal = opt_bool(spec.equal, 'equal', true)
  s.xlim = opt_limits(spec.xlim, 'xlim', false)
  s.ylim = opt_limits(spec.ylim, 'ylim', false)

  local list = {}
  for i, ser in ipairs(spec.series) do
    local what = fmt('series[%d]', i)
    if type(ser) ~= 'table' or dode.is_tensor(ser) then bad('%s must be a table {name =, points =} (got %s)', what, describe(ser)) end
    check_keys(ser, SCATTER_SERIES_KEYS, what)
    if ser.points == nil then bad('%s.points is missing (an Nx2 tensor or a list of {x, y} pairs)', what) end
    local alpha = opt_number(ser.alpha, what .. '.alpha', 0, 0.6)
    if alpha > 1 then bad('%s.alpha must be between 0 and 1 (got %s)', what, describe(ser.alpha)) end
    if ser.group ~= nil and type(ser.group) ~= 'string' and type(ser.group) ~= 'number' then
      bad('%s.group must be a string (got %s)', what, describe(ser.group))
    end
    list[i] = {
      name = opt_string(ser.name, what .. '.name') or ('series ' .. i),
      points = pairs_of(ser.points, what .. '.points'),
      r = opt_number(ser.size, what .. '.size', 0, 2),
      alpha = alpha,
      color = ser.color ~= nil and colour(ser.color, what .. '.color') or nil,
      group = ser.group,
    }
  end
  assign_colours(list)

  local skipped, per_series = 0, {}
  local xr, yr = {}, {}
  for i, ser in ipairs(list) do
    local n = 0
    for _, p in ipairs(ser.points) do
      if finite(p[1]) and finite(p[2]) then
        range_update(xr, p[1]); range_update(yr, p[2])
      else
        n = n + 1
      end
    end
    per_series[i] = n
    skipped = skipped + n
  end

  local W, H = s.width, s.height
  local xtarget = math.max(3, math.min(9, floor((W - 150) / 85)))
  local ytarget = math.max(3, math.min(9, floor((H - 100) / 55)))
  local function base_axis(lim, r, target)
    if lim then return linear_axis(lim[1], lim[2], target, 0) end
    return linear_axis(r.lo, r.hi, target, 0.04)
  end
  local xax = base_axis(s.xlim, xr, xtarget)
  local yax = base_axis(s.ylim, yr, ytarget)
  local entries = {}
  for _, ser in ipairs(list) do
    entries[#entries + 1] = { label = shorten(ser.name, 40), full = ser.name, ser = ser }
  end
  local L = layout(s, xax, yax, entries, 14)

  if s.equal then
    -- One data unit is the same length on both axes: widen whichever domain has room to spare.
    -- The y tick labels set the left margin, which sets the plot width, so settle it in a few passes.
    local bx, by = xax, yax
    for _ = 1, 4 do
      local pw, ph = L.x1 - L.x0, L.y1 - L.y0
      local sx, sy = pw / (bx.hi - bx.lo), ph / (by.hi - by.lo)
      local k = math.min(sx, sy)
      if sx > k then
        local c, half = (bx.lo + bx.hi) / 2, pw / k / 2
        xax, yax = linear_axis(c - half, c + half, xtarget, 0), by
      else
        local c, half = (by.lo + by.hi) / 2, ph / k / 2
        xax, yax = bx, linear_axis(c - half, c + half, ytarget, 0)
      end
      local L2 = layout(s, xax, yax, entries, 14)
      local same = L2.x0 == L.x0 and L2.x1 == L.x1
      L = L2
      if same then break end
    end
  end

  local out = {}
  local names = {}
  for i, ser in ipairs(list) do names[i] = ser.name end
  frame_open(out, s, L, names)
  grid(out, L, xax, yax)
  out[#out + 1] = fmt('<g class="data" clip-path="url(#%s)" stroke="none">\n', L.clip)
  for _, ser in ipairs(list) do
    out[#out + 1] = fmt('<g class="series" fill="%s" fill-opacity="%s"><title>%s</title>\n', esc(ser.color), num(ser.alpha), esc(ser.name))
    local r = num(ser.r)
    local n = 0
    for _, p in ipairs(ser.points) do
      if finite(p[1]) and finite(p[2]) then
        out[#out + 1] = fmt('<circle cx="%s" cy="%s" r="%s"/>', num(px(L, xax, p[1])), num(py(L, yax, p[2])), r)
        n = n + 1
        if n % 8 == 0 then out[#out + 1] = '\n' end
      end
    end
    out[#out + 1] = '\n</g>\n'
  end
  out[#out + 1] = '</g>\n'
  if xr.lo == nil then no_data(out, L, skipped) end
  axes(out, s, L, xax, yax)
  legend(out, s, L, entries, function(o, e, x, y)
    o[#o + 1] = fmt('<circle cx="%s" cy="%s" r="%s" fill="%s"/>', num(x + 7), num(y), num(math.min(math.max(e.ser.r, 3.5), 6)), esc(e.ser.color))
  end)
  out[#out + 1] = '</svg>\n'
  local svg = concat(out)
  if s.path then write_atomic(s.path, svg) end
  -- A chart object: chart.svg is the text; a notebook shows it inline (dode.display).
  return display.chart{ kind = 'scatter', svg = svg, width = L.W, height = L.H, path = s.path, title = s.title,
    series = #list, skipped = skipped, skipped_per_series = per_series }
end

M.scatter = public('dode.plot.scatter', scatter_impl)

---------------------------------------------------------------------------------------------
-- Help.

help.register(M, 'dode.plot', 'dode.plot',
  "SVG charts: require('dode.plot').line{...} for curves (log axes, solver pairs), .scatter{...} for 2-D samples. "
  .. 'Both return a chart object (chart.svg, chart:save(path), chart.skipped, chart.skipped_per_series; shown inline in a notebook) and write `path` atomically when given.')
help.register(M.line, 'dode.plot.line',
  "dode.plot.line{series = {{name =, x =, y =, style = 'solid' | 'dashed' | 'dotted', marker = false | true | 'square' | ..., color =, group =, width = 2}, ...}, "
  .. "title =, xlabel =, ylabel =, xlog = false, ylog = false, xlim =, ylim =, legend = 'right' | 'inside' | 'bottom' | false, width = 640, height = 420, path =}",
  'Line chart as SVG; returns a chart (chart.svg is the text; chart.skipped and chart.skipped_per_series count the points not drawn). x and y are lists or 1-D tensors of the same length (x defaults to 1..n). '
  .. 'Series with the same `group` share a colour (pair a solid base solver with its dashed D variant); `color` is a palette index or #rrggbb. '
  .. 'Log axes use decade ticks (labels 0.001 or 1e-5) with minor ticks. NaN, inf and values <= 0 on a log axis are skipped, counted, and break the line.')
help.register(M.scatter, 'dode.plot.scatter',
  'dode.plot.scatter{series = {{name =, points = Nx2 tensor | {{x, y}, ...}, size = 2, alpha = 0.6, color =, group =}, ...}, '
  .. "title =, xlabel =, ylabel =, equal = true, xlim =, ylim =, legend = 'right' | 'inside' | 'bottom' | false, width = 640, height = 420, path =}",
  'Scatter plot of 2-D points as SVG; returns a chart (chart.svg is the text; chart.skipped and chart.skipped_per_series count the points not drawn). `equal` keeps one unit the same length on both axes; '
  .. '`size` is the dot radius in pixels. Points with NaN or inf are skipped and counted.')
help.register(M.escape, 'dode.plot.escape', 'dode.plot.escape(text)',
  'Text made safe for XML: valid UTF-8, no forbidden control characters, & < > " \' as entities.')

return M
