--- dode.plot.scatter (the drawing behind it): 2-D points as dots on linear axes, by default one
-- data unit the same length on both. dode.plot wraps `draw` as the public dode.plot.scatter.
local axes = require 'dode.plot.axes'
local chart = require 'dode.plot.chart'
local spec = require 'dode.plot.spec'
local svg = require 'dode.plot.svg'
local util = require 'dode.util'

local M = {}

local fmt = string.format
local esc, num, bad, describe, finite = svg.escape, svg.num, spec.bad, util.describe, util.finite

local SERIES_KEYS = util.set { 'name', 'points', 'size', 'alpha', 'color', 'group' }

--- Series i checked: {name =, x =, y =, r = dot radius, alpha =, color =, group =}.
local function series(ser, i, palette)
  local what = spec.series_table(ser, i, '{name =, points =}', SERIES_KEYS)
  if ser.points == nil then bad('%s.points is missing (an Nx2 tensor or a list of {x, y} pairs)', what) end
  local alpha = spec.opt_number(ser.alpha, what .. '.alpha', 0, 0.6)
  if alpha > 1 then bad('%s.alpha must be between 0 and 1 (got %s)', what, describe(ser.alpha)) end
  spec.check_group(ser.group, what)
  local name = spec.series_name(ser.name, what, i)
  local x, y = {}, {}
  for j, p in ipairs(spec.pairs_of(ser.points, what .. '.points')) do x[j], y[j] = p[1], p[2] end
  return {
    name = name, x = x, y = y,
    r = spec.opt_number(ser.size, what .. '.size', 0, 2),
    alpha = alpha,
    color = spec.series_colour(ser.color, what, palette),
    group = ser.group,
  }
end

--- Axes with one data unit the same length on both: widens whichever domain has room to spare.
-- The y tick labels set the left margin, which sets the plot width, so it settles in a few passes.
local function equal_axes(s, xax, yax, L, entries)
  local xtarget, ytarget = axes.targets(s.width, s.height)
  local bx, by = xax, yax
  for _ = 1, 4 do
    local pw, ph = L.x1 - L.x0, L.y1 - L.y0
    local sx, sy = pw / (bx.hi - bx.lo), ph / (by.hi - by.lo)
    local k = math.min(sx, sy)
    if sx > k then
      local c, half = (bx.lo + bx.hi) / 2, pw / k / 2
      xax, yax = axes.linear(c - half, c + half, xtarget, 0), by
    else
      local c, half = (by.lo + by.hi) / 2, ph / k / 2
      xax, yax = bx, axes.linear(c - half, c + half, ytarget, 0)
    end
    local L2 = svg.layout(s, xax, yax, entries, 14)
    local same = L2.x0 == L.x0 and L2.x1 == L.x1
    L = L2
    if same then break end
  end
  return xax, yax, L
end

--- The legend swatch: one dot.
local function sample(o, e, x, y)
  o[#o + 1] = fmt('<circle cx="%s" cy="%s" r="%s" fill="%s"/>', num(x + 7), num(y),
    num(math.min(math.max(e.ser.r, 3.5), 6)), esc(e.ser.color))
end

--- The scatter plot of the options table `options` (see dode.plot.scatter), colours from `palette`.
function M.draw(options, palette)
  local s = spec.common(options, { 'equal' })
  s.equal = spec.opt_bool(options.equal, 'equal', true)
  s.xlim = spec.opt_limits(options.xlim, 'xlim', false)
  s.ylim = spec.opt_limits(options.ylim, 'ylim', false)
  local list = {}
  for i, ser in ipairs(options.series) do list[i] = series(ser, i, palette) end
  chart.assign_colours(list, palette)
  local tally = chart.tally(list, function(xv, yv) return finite(xv) and finite(yv) end)

  local xtarget, ytarget = axes.targets(s.width, s.height)
  local xax = axes.fit(s.xlim, tally.x, false, xtarget)
  local yax = axes.fit(s.ylim, tally.y, false, ytarget)
  local entries = chart.entries(list)
  local L = svg.layout(s, xax, yax, entries, 14)
  if s.equal then xax, yax, L = equal_axes(s, xax, yax, L, entries) end

  local out = chart.begin(s, L, list, xax, yax)
  out[#out + 1] = fmt('<g class="data" clip-path="url(#%s)" stroke="none">\n', L.clip)
  for _, ser in ipairs(list) do
    out[#out + 1] = fmt('<g class="series" fill="%s" fill-opacity="%s"><title>%s</title>\n',
      esc(ser.color), num(ser.alpha), esc(ser.name))
    local r = num(ser.r)
    local n = 0
    for j = 1, #ser.y do
      if ser.ok[j] then
        out[#out + 1] = fmt('<circle cx="%s" cy="%s" r="%s"/>', num(svg.px(L, xax, ser.x[j])),
          num(svg.py(L, yax, ser.y[j])), r)
        n = n + 1
        if n % 8 == 0 then out[#out + 1] = '\n' end
      end
    end
    out[#out + 1] = '\n</g>\n'
  end
  out[#out + 1] = '</g>\n'
  return chart.finish(out, { kind = 'scatter', s = s, L = L, xax = xax, yax = yax, list = list, entries = entries,
    tally = tally, sample = sample })
end

return M
