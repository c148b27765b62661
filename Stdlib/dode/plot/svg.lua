--- dode.plot.svg: SVG text for charts: XML escaping, the page layout, and the parts every
-- chart kind draws (the frame with its clip path, grid, axes with tick labels, axis labels,
-- title, legend, the no-data note) plus point markers.
--
-- A layout L (from M.layout) holds the picture size W x H, the plot area [x0, x1] x [y0, y1]
-- and the legend box and placement; px/py map data values into the plot area.
local axis = require 'dode.plot.axes'
local spec = require 'dode.plot.spec'
local util = require 'dode.util'

local M = {}

local floor, ceil = math.floor, math.ceil
local fmt, concat = string.format, table.concat

local FONT = 'DejaVu Sans, Helvetica, Arial, sans-serif'
local TICK_FONT, LABEL_FONT, TITLE_FONT, LEGEND_FONT = 11, 12.5, 15, 12
local LEGEND_ROW = 18

---------------------------------------------------------------------------------------------
-- Text.

local XML_ESC = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&apos;' }

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
  return (s:gsub('[&<>"\']', XML_ESC))
end
local esc = M.escape

--- Number as a short SVG coordinate.
local function num(v)
  local s = fmt('%.2f', v):gsub('%.?0+$', '')
  if s == '-0' then return '0' end
  return s
end
M.num = num

local function text_width(s, size)
  return util.chars(s) * size * 0.6
end

--- s cut to n characters, the last one an ellipsis, when it is longer.
function M.shorten(s, n)
  if util.chars(s) <= n then return s end
  local cut = utf8.offset(s, n) or n
  return s:sub(1, cut - 1) .. '\u{2026}'
end

---------------------------------------------------------------------------------------------
-- Layout.

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
  return { w = cols * col_w + 10, h = per_col * LEGEND_ROW + 10, col_w = col_w, per_col = per_col,
    sample_w = sample_w }
end

--- Margins, plot area and legend placement for the options s (width, height, title, labels,
-- legend), the two axes and the legend entries, whose swatches are sample_w wide. A right-hand
-- legend that would leave the plot less than 55% of the width moves below the chart, and the
-- picture grows taller to hold it.
function M.layout(s, xax, yax, entries, sample_w)
  local W, H = s.width, s.height
  local L = { W = W, H = H }
  L.top = s.title and 36 or 14
  L.left = 10 + (s.ylabel and 22 or 0) + max_label_width(yax) + 9
  L.bottom = 10 + 20 + (s.xlabel and 22 or 0)
  local last = xax.ticks[#xax.ticks]
  local right = math.max(20, last and text_width(last.label, TICK_FONT) / 2 + 6 or 0)
  local mode = #entries > 0 and s.legend or false
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
    spec.bad('width %s and height %s leave no room for the plot (make the chart larger or names shorter)',
      tostring(W), tostring(H))
  end
  return L
end

--- The picture x of value v on axis xax.
local function px(L, xax, v) return L.x0 + axis.map(xax, v) * (L.x1 - L.x0) end
--- The picture y of value v on axis yax.
local function py(L, yax, v) return L.y1 - axis.map(yax, v) * (L.y1 - L.y0) end
M.px, M.py = px, py

---------------------------------------------------------------------------------------------
-- The parts of a chart, in drawing order; each appends SVG text to the list `out`.

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

--- The XML header, the <svg> element, the title, a white background and the clip path of the
-- plot area (its id, from the chart's texts and series `names`, goes to L.clip).
function M.open(out, s, L, names)
  local W, H = L.W, L.H
  clip_counter = clip_counter + 1
  L.clip = fmt('dode-plot-%d-%s', clip_counter,
    hash { s.title or '', s.xlabel or '', s.ylabel or '', concat(names, '\0') })
  out[#out + 1] = '<?xml version="1.0" encoding="UTF-8"?>\n'
  out[#out + 1] = fmt('<svg xmlns="http://www.w3.org/2000/svg" width="%s" height="%s" viewBox="0 0 %s %s" '
    .. 'font-family="%s" font-size="%s">\n', num(W), num(H), num(W), num(H), FONT, TICK_FONT)
  if s.title then out[#out + 1] = '<title>' .. esc(s.title) .. '</title>\n' end
  out[#out + 1] = '<rect x="0" y="0" width="100%" height="100%" fill="white"/>\n'
  local pad = 5
  out[#out + 1] = fmt('<defs><clipPath id="%s"><rect x="%s" y="%s" width="%s" height="%s"/></clipPath></defs>\n',
    L.clip, num(L.x0 - pad), num(L.y0 - pad), num(L.x1 - L.x0 + 2 * pad), num(L.y1 - L.y0 + 2 * pad))
end

--- Grid lines at the minor and major ticks of both axes.
function M.grid(out, L, xax, yax)
  local line = '<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s"/>\n'
  out[#out + 1] = '<g class="grid" fill="none">\n'
  local function vline(x, c) out[#out + 1] = fmt(line, num(x), num(L.y0), num(x), num(L.y1), c) end
  local function hline(y, c) out[#out + 1] = fmt(line, num(L.x0), num(y), num(L.x1), num(y), c) end
  for _, v in ipairs(xax.minor) do vline(px(L, xax, v), '#f1f1f1') end
  for _, v in ipairs(yax.minor) do hline(py(L, yax, v), '#f1f1f1') end
  for _, t in ipairs(xax.ticks) do vline(px(L, xax, t.v), t.minor and '#ebebeb' or '#e0e0e0') end
  for _, t in ipairs(yax.ticks) do hline(py(L, yax, t.v), t.minor and '#ebebeb' or '#e0e0e0') end
  out[#out + 1] = '</g>\n'
end

--- The frame of the plot area, the tick marks and tick labels, the axis labels and the title.
function M.axes(out, s, L, xax, yax)
  out[#out + 1] = fmt('<rect class="frame" x="%s" y="%s" width="%s" height="%s" fill="none" stroke="#444" '
    .. 'stroke-width="1"/>\n', num(L.x0), num(L.y0), num(L.x1 - L.x0), num(L.y1 - L.y0))
  local line = '<line x1="%s" y1="%s" x2="%s" y2="%s"/>\n'
  out[#out + 1] = '<g class="ticks" stroke="#444" stroke-width="1">\n'
  for _, v in ipairs(xax.minor) do
    local x = px(L, xax, v)
    out[#out + 1] = fmt(line, num(x), num(L.y1), num(x), num(L.y1 + 3))
  end
  for _, v in ipairs(yax.minor) do
    local y = py(L, yax, v)
    out[#out + 1] = fmt(line, num(L.x0 - 3), num(y), num(L.x0), num(y))
  end
  for _, t in ipairs(xax.ticks) do
    local x = px(L, xax, t.v)
    out[#out + 1] = fmt(line, num(x), num(L.y1), num(x), num(L.y1 + 5))
  end
  for _, t in ipairs(yax.ticks) do
    local y = py(L, yax, t.v)
    out[#out + 1] = fmt(line, num(L.x0 - 5), num(y), num(L.x0), num(y))
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
  if s.xlabel then
    out[#out + 1] = fmt('<text class="xlabel" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#222">'
      .. '%s</text>\n', num(cx), num(L.y1 + 40), LABEL_FONT, esc(s.xlabel))
  end
  if s.ylabel then
    local x = 10 + LABEL_FONT - 1
    out[#out + 1] = fmt('<text class="ylabel" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#222" '
      .. 'transform="rotate(-90 %s %s)">%s</text>\n', num(x), num(cy), LABEL_FONT, num(x), num(cy), esc(s.ylabel))
  end
  if s.title then
    out[#out + 1] = fmt('<text class="title" x="%s" y="%s" text-anchor="middle" font-size="%s" font-weight="bold" '
      .. 'fill="#111">%s</text>\n', num(s.width / 2), 23, TITLE_FONT, esc(s.title))
  end
end

--- The legend of entries ({label =, full =}: the shown and the whole name), placed as the
-- layout says; `sample(out, entry, x, y)` draws an entry's swatch spanning [x, x + sample_w].
function M.legend(out, L, entries, sample)
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
  out[#out + 1] = fmt('<rect x="%s" y="%s" width="%s" height="%s" fill="white" fill-opacity="0.9" stroke="#cccccc" '
    .. 'rx="3"/>\n', num(bx), num(by), num(box.w), num(box.h))
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
function M.no_data(out, L, skipped)
  local note = 'no data to draw'
  if skipped > 0 then note = fmt('no data to draw (%d point%s skipped)', skipped, skipped == 1 and '' or 's') end
  out[#out + 1] = fmt('<text class="no-data" x="%s" y="%s" text-anchor="middle" font-size="%s" fill="#888">%s</text>\n',
    num((L.x0 + L.x1) / 2), num((L.y0 + L.y1) / 2), LABEL_FONT, note)
end

---------------------------------------------------------------------------------------------
-- Markers and line styles.

--- The marker shapes.
M.MARKERS = util.set { 'circle', 'square', 'triangle', 'diamond' }

--- A marker of this shape and radius r centred on (x, y) (its colours come from the enclosing group).
function M.marker(shape, x, y, r)
  if shape == 'square' then
    return fmt('<rect x="%s" y="%s" width="%s" height="%s"/>',
      num(x - r * 0.9), num(y - r * 0.9), num(r * 1.8), num(r * 1.8))
  elseif shape == 'triangle' then
    return fmt('<path d="M%s %sL%s %sL%s %sZ"/>',
      num(x), num(y - r * 1.15), num(x + r), num(y + r * 0.7), num(x - r), num(y + r * 0.7))
  elseif shape == 'diamond' then
    return fmt('<path d="M%s %sL%s %sL%s %sL%s %sZ"/>',
      num(x), num(y - r * 1.2), num(x + r), num(y), num(x), num(y + r * 1.2), num(x - r), num(y))
  end
  return fmt('<circle cx="%s" cy="%s" r="%s"/>', num(x), num(y), num(r))
end

--- The stroke-dasharray of each line style (nil: a solid line).
M.DASH = { solid = nil, dashed = '7,4', dotted = '2,3' }

return M
