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
-- one too wide for the right side moves below the chart, which grows taller. Files are written
-- atomically.
--
-- The parts live in dode.plot.*: spec (option checking), axes (ticks and scales), svg (layout
-- and the drawing every chart shares), chart (the steps around a chart kind's own marks), and
-- one module per chart kind (line, scatter).
local help = require 'dode.help'
local spec = require 'dode.plot.spec'
local svg = require 'dode.plot.svg'
local line = require 'dode.plot.line'
local scatter = require 'dode.plot.scatter'

local M = {}

--- The colour cycle (ten colours that stay apart from each other and on white). Charts read it
-- when drawn, so changing it (or replacing it) changes the colours of later charts.
M.palette = {
  '#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd',
  '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf',
}

--- Makes a string safe as XML character data or an attribute value (see dode.plot.svg).
M.escape = svg.escape

M.line = spec.public('dode.plot.line', function(options) return line.draw(options, M.palette) end)
M.scatter = spec.public('dode.plot.scatter', function(options) return scatter.draw(options, M.palette) end)

---------------------------------------------------------------------------------------------
-- Help.

help.register(M, 'dode.plot', 'dode.plot',
  "SVG charts: require('dode.plot').line{...} for curves (log axes, solver pairs), .scatter{...} for 2-D samples. "
  .. 'Both return a chart object (chart.svg, chart:save(path), chart.skipped, chart.skipped_per_series; '
  .. 'shown inline in a notebook) and write `path` atomically when given.')
help.register(M.line, 'dode.plot.line',
  "dode.plot.line{series = {{name =, x =, y =, style = 'solid' | 'dashed' | 'dotted', "
  .. "marker = false | true | 'square' | ..., color =, group =, width = 2}, ...}, "
  .. "title =, xlabel =, ylabel =, xlog = false, ylog = false, xlim =, ylim =, "
  .. "legend = 'right' | 'inside' | 'bottom' | false, width = 640, height = 420, path =}",
  'Line chart as SVG; returns a chart (chart.svg is the text; chart.skipped and chart.skipped_per_series count '
  .. 'the points not drawn). x and y are lists or 1-D tensors of the same length (x defaults to 1..n). '
  .. 'Series with the same `group` share a colour (pair a solid base solver with its dashed D variant); '
  .. '`color` is a palette index or #rrggbb. '
  .. 'Log axes use decade ticks (labels 0.001 or 1e-5) with minor ticks. '
  .. 'NaN, inf and values <= 0 on a log axis are skipped, counted, and break the line.')
help.register(M.scatter, 'dode.plot.scatter',
  'dode.plot.scatter{series = {{name =, points = Nx2 tensor | {{x, y}, ...}, size = 2, alpha = 0.6, color =, '
  .. 'group =}, ...}, '
  .. "title =, xlabel =, ylabel =, equal = true, xlim =, ylim =, legend = 'right' | 'inside' | 'bottom' | false, "
  .. 'width = 640, height = 420, path =}',
  'Scatter plot of 2-D points as SVG; returns a chart (chart.svg is the text; chart.skipped and '
  .. 'chart.skipped_per_series count the points not drawn). `equal` keeps one unit the same length on both axes; '
  .. '`size` is the dot radius in pixels. Points with NaN or inf are skipped and counted.')
help.register(M.escape, 'dode.plot.escape', 'dode.plot.escape(text)',
  'Text made safe for XML: valid UTF-8, no forbidden control characters, & < > " \' as entities.')

return M
