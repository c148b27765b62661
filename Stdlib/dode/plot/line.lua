--- dode.plot.line (the drawing behind it): curves as polylines, linear or log axes, line
-- styles and markers. dode.plot wraps `draw` as the public dode.plot.line.
local axes = require 'dode.plot.axes'
local chart = require 'dode.plot.chart'
local spec = require 'dode.plot.spec'
local svg = require 'dode.plot.svg'
local util = require 'dode.util'

local M = {}

local fmt, concat = string.format, table.concat
local esc, num, bad, describe, finite = svg.escape, svg.num, spec.bad, util.describe, util.finite

local SERIES_KEYS = util.set { 'name', 'x', 'y', 'style', 'marker', 'color', 'group', 'width' }

--- Series i checked: {name =, x =, y =, style =, marker = shape or nil, color =, group =, lw =}.
local function series(ser, i, palette)
  local what = spec.series_table(ser, i, '{name =, x =, y =}', SERIES_KEYS)
  if ser.y == nil then bad('%s.y is missing (the values to plot)', what) end
  local y = spec.numbers(ser.y, what .. '.y')
  local x
  if ser.x == nil then
    x = {}
    for j = 1, #y do x[j] = j end
  else
    x = spec.numbers(ser.x, what .. '.x')
  end
  if #x ~= #y then bad('%s.x has %d values but %s.y has %d (they must have the same length)', what, #x, what, #y) end
  local style = ser.style == nil and 'solid' or ser.style
  if not (style == 'solid' or style == 'dashed' or style == 'dotted') then
    bad("%s.style must be 'solid', 'dashed' or 'dotted' (got %s)", what, describe(ser.style))
  end
  local marker = ser.marker
  if marker == true then marker = 'circle' end
  if marker ~= nil and marker ~= false and not svg.MARKERS[marker] then
    bad("%s.marker must be true, false or one of 'circle', 'square', 'triangle', 'diamond' (got %s)",
      what, describe(ser.marker))
  end
  spec.check_group(ser.group, what)
  return {
    name = spec.series_name(ser.name, what, i),
    x = x, y = y, style = style, marker = marker or nil,
    color = spec.series_colour(ser.color, what, palette),
    group = ser.group,
    lw = spec.opt_number(ser.width, what .. '.width', 0, 2),
  }
end

--- One series: its line broken where points are skipped, and its markers (a lone point gets a
-- circle so that it shows).
local function draw_series(out, ser, L, xax, yax)
  out[#out + 1] = '<g class="series"><title>' .. esc(ser.name) .. '</title>\n'
  local dash = svg.DASH[ser.style]
  local attrs = fmt('stroke="%s" stroke-width="%s"%s', esc(ser.color), num(ser.lw),
    dash and fmt(' stroke-dasharray="%s"', dash) or '')
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
      seg[#seg + 1] = num(svg.px(L, xax, ser.x[j])) .. ',' .. num(svg.py(L, yax, ser.y[j]))
    else
      flush()
    end
  end
  flush()
  local shape = ser.marker or (valid == 1 and 'circle') or nil
  if shape then
    local hollow = ser.style ~= 'solid'
    out[#out + 1] = fmt('<g fill="%s" stroke="%s" stroke-width="1.5">', hollow and 'white' or esc(ser.color),
      esc(ser.color))
    for j = 1, #ser.y do
      if ser.ok[j] then out[#out + 1] = svg.marker(shape, svg.px(L, xax, ser.x[j]), svg.py(L, yax, ser.y[j]), 3.5) end
    end
    out[#out + 1] = '</g>\n'
  end
  out[#out + 1] = '</g>\n'
end

--- The legend swatch: a piece of the line, with its marker.
local function sample(o, e, x, y)
  local ser = e.ser
  local dash = svg.DASH[ser.style]
  o[#o + 1] = fmt('<line x1="%s" y1="%s" x2="%s" y2="%s" stroke="%s" stroke-width="%s"%s/>',
    num(x), num(y), num(x + 30), num(y), esc(ser.color), num(math.max(ser.lw, 1.5)),
    dash and fmt(' stroke-dasharray="%s"', dash) or '')
  if ser.marker then
    o[#o + 1] = fmt('<g fill="%s" stroke="%s" stroke-width="1.5">%s</g>',
      ser.style ~= 'solid' and 'white' or esc(ser.color), esc(ser.color), svg.marker(ser.marker, x + 15, y, 3.5))
  end
end

--- The line chart of the options table `options` (see dode.plot.line), colours from `palette`.
function M.draw(options, palette)
  local s = spec.common(options, { 'xlog', 'ylog' })
  s.xlog = spec.opt_bool(options.xlog, 'xlog', false)
  s.ylog = spec.opt_bool(options.ylog, 'ylog', false)
  s.xlim = spec.opt_limits(options.xlim, 'xlim', s.xlog)
  s.ylim = spec.opt_limits(options.ylim, 'ylim', s.ylog)
  local list = {}
  for i, ser in ipairs(options.series) do list[i] = series(ser, i, palette) end
  chart.assign_colours(list, palette)
  local tally = chart.tally(list, function(xv, yv)
    return finite(xv) and finite(yv) and (not s.xlog or xv > 0) and (not s.ylog or yv > 0)
  end)

  local xtarget, ytarget = axes.targets(s.width, s.height)
  local xax = axes.fit(s.xlim, tally.x, s.xlog, xtarget)
  local yax = axes.fit(s.ylim, tally.y, s.ylog, ytarget)
  local entries = chart.entries(list)
  local L = svg.layout(s, xax, yax, entries, 30)

  local out = chart.begin(s, L, list, xax, yax)
  out[#out + 1] = fmt('<g class="data" clip-path="url(#%s)" fill="none" stroke-linejoin="round" '
    .. 'stroke-linecap="round">\n', L.clip)
  for _, ser in ipairs(list) do draw_series(out, ser, L, xax, yax) end
  out[#out + 1] = '</g>\n'
  return chart.finish(out, { kind = 'line', s = s, L = L, xax = xax, yax = yax, list = list, entries = entries,
    tally = tally, sample = sample })
end

return M
