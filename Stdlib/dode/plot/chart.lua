--- dode.plot.chart: the steps every chart kind shares around drawing its own marks: series
-- colours, counting the points that can be drawn, legend entries, the SVG before and after the
-- data, writing the file, and the chart object (dode.display.chart) returned to the user.
--
-- A chart kind (dode.plot.line, dode.plot.scatter) checks its options and series, then:
--   assign_colours -> tally -> axes and layout -> begin -> its data marks -> finish.
-- A series is a table {name =, x = {...}, y = {...}, color =, group =, ...}.
local display = require 'dode.display'
local spec = require 'dode.plot.spec'
local svg = require 'dode.plot.svg'
local util = require 'dode.util'

local M = {}

--- Assigns colours: an explicit `color` wins; series sharing a `group` share one colour;
-- everything else takes the next palette colour.
function M.assign_colours(list, palette)
  local next_i, by_group = 0, {}
  for _, s in ipairs(list) do
    if not s.color then
      if s.group ~= nil and by_group[s.group] then
        s.color = by_group[s.group]
      else
        next_i = next_i + 1
        s.color = palette[(next_i - 1) % #palette + 1]
      end
    end
    if s.group ~= nil and not by_group[s.group] then by_group[s.group] = s.color end
  end
end

local function range_update(r, v)
  if r.lo == nil or v < r.lo then r.lo = v end
  if r.hi == nil or v > r.hi then r.hi = v end
end

--- Marks each point j of each series drawable or not (ser.ok[j] = drawable(x, y)) and returns
-- {skipped = count, per_series = {count, ...}, x = {lo =, hi =}, y = {lo =, hi =}}: the points
-- left out and the ranges of those drawn (empty ranges when there are none).
function M.tally(list, drawable)
  local t = { skipped = 0, per_series = {}, x = {}, y = {} }
  for i, ser in ipairs(list) do
    local ok, n = {}, 0
    for j = 1, #ser.y do
      local xv, yv = ser.x[j], ser.y[j]
      local good = drawable(xv, yv)
      ok[j] = good
      if good then
        range_update(t.x, xv); range_update(t.y, yv)
      else
        n = n + 1
      end
    end
    ser.ok = ok
    t.per_series[i] = n
    t.skipped = t.skipped + n
  end
  return t
end

--- The legend entries of the series: {label = name cut to 40 characters, full = name, ser = series}.
function M.entries(list)
  local entries = {}
  for _, ser in ipairs(list) do
    entries[#entries + 1] = { label = svg.shorten(ser.name, 40), full = ser.name, ser = ser }
  end
  return entries
end

--- The SVG text list up to the data: the <svg> element, background, clip path and grid.
function M.begin(s, L, list, xax, yax)
  local out = {}
  local names = {}
  for i, ser in ipairs(list) do names[i] = ser.name end
  svg.open(out, s, L, names)
  svg.grid(out, L, xax, yax)
  return out
end

--- Ends the SVG after the data (the no-data note, axes, labels, legend), writes it to s.path
-- when given and returns the chart object. c = {kind =, s =, L =, xax =, yax =, list =,
-- entries =, tally =, sample = function(out, entry, x, y) drawing a legend swatch}.
function M.finish(out, c)
  local s, L, tally = c.s, c.L, c.tally
  if tally.x.lo == nil then svg.no_data(out, L, tally.skipped) end
  svg.axes(out, s, L, c.xax, c.yax)
  svg.legend(out, L, c.entries, c.sample)
  out[#out + 1] = '</svg>\n'
  local text = table.concat(out)
  if s.path then
    local ok, err = util.write_file(s.path, text)
    if not ok then spec.bad('%s', err) end
  end
  -- A chart object: chart.svg is the text; a notebook shows it inline (dode.display).
  return display.chart{ kind = c.kind, svg = text, width = L.W, height = L.H, path = s.path, title = s.title,
    series = #c.list, skipped = tally.skipped, skipped_per_series = tally.per_series }
end

return M
