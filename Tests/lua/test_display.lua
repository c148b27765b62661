-- dode.display outside a notebook: image, chart and table objects, their MIME bundles and
-- terminal text, files still written with `path`, the notebook kernel's Lua hooks, and errors
-- for bad arguments. (The notebook side is Tests/jupyter/test_kernel.py.)
local T = require('dode.tester').new('display')
local plot = require 'dode.plot'
local rtable = require 'dode.table'

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute("mkdir -p '" .. tmpdir .. "'"))

local read = require('dode.tester').read_file

--- Runs fn with print captured; returns the printed lines.
local function captured(fn)
  local lines, saved = {}, print
  print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    lines[#lines + 1] = table.concat(t, '\t', 1, t.n)
  end
  local ok, err = pcall(fn)
  print = saved
  if not ok then error(err, 0) end
  return lines
end

local PNG_SIGNATURE = '\137PNG\r\n\26\n'

T:add('image grid without a path: an image object', function(t)
  local x = dode.randn(dode.Generator(3), 6, 64)
  local img = dode.image.grid(x, { columns = 3 })
  t:eq(img.width, 3 * 32 + 4, 'width: 3 columns of 8x8 at scale 4 with padding')
  t:eq(img.height, 2 * 32 + 3, 'height: 2 rows')
  t:eq(img.channels, 1, 'grey')
  t:eq(img.path, nil, 'no file')
  t:eq(img.png:sub(1, 8), PNG_SIGNATURE, 'PNG bytes')
  t:eq(tostring(img):match('^%[dode%.Image (%d+x%d+) PNG'), '100x67', 'terminal text: ' .. tostring(img))
  local b = dode.display.bundle(img)
  t:eq(b['image/png'], img.png, 'bundle carries the PNG')
  t:eq(b['text/plain'], tostring(img), 'and the terminal text')
  t:ok(dode.display.rich(img), 'rich')
  -- Saving writes exactly those bytes, which decode to the same size.
  local path = tmpdir .. '/saved.png'
  t:eq(img:save(path), path, 'save returns the path')
  t:eq(read(path), img.png, 'file bytes')
  local px = dode.image.read(path)
  t:eq(px:size(1), img.height, 'decoded height'); t:eq(px:size(2), img.width, 'decoded width')
end)

T:add('image grid with a path: the file and the object', function(t)
  local x = dode.randn(dode.Generator(4), 4, 3 * 16)
  local path = tmpdir .. '/rgb.png'
  local img = dode.image.grid(x, { path = path, channels = 3, height = 4, width = 4 })
  t:eq(img.path, path, 'the object remembers the file')
  t:eq(img.channels, 3, 'RGB')
  t:eq(read(path), img.png, 'the file holds the same PNG')
  t:ok(tostring(img):find(path, 1, true), 'the terminal text names the file')
  t:ok(read(path .. '.tmp') == nil, 'no temporary file left')
  t:raises(function() dode.image.grid(x, { path = '' }) end, { 'dode.image.grid', "option 'path'" })
  t:raises(function() dode.image.grid(x, { path = 5 }) end, { 'dode.image.grid', "option 'path'", 'a string' })
  t:raises(function() dode.image.grid(x, { path = tmpdir .. '/no/such/dir/a.png', channels = 3 }) end,
    { 'dode.image.grid', 'does not exist' })
  t:raises(function() dode.image.grid(dode.tensor(1)) end, { 'dode.image.grid' })
  t:raises(function() img:save(tmpdir .. '/no/such/dir/a.png') end, { 'dode.image.save', 'does not exist' })
  t:raises(function() img:save(5) end, { 'dode.image.save', 'argument 2', 'a string' })
  t:raises(function() dode.image.save({}, tmpdir .. '/x.png') end, { 'dode.image.save', 'argument 1', 'image' })
end)

T:add('charts: SVG object, terminal summary, file when given a path', function(t)
  local chart = plot.line{ title = 'rmse',
    series = { { name = 'a', y = { 1, 2, 0 / 0 } }, { name = 'b', y = { 3, 1 } } } }
  t:eq(chart.skipped, 1, 'skipped count'); t:eq(chart.skipped_per_series[1], 1, 'per series')
  t:ok(chart.svg:find('^<%?xml'), 'chart.svg is the SVG text')
  t:eq(chart.kind, 'line', 'kind'); t:eq(chart.width, 640, 'width'); t:eq(chart.height, 420, 'height')
  t:eq(tostring(chart), '[dode.Chart line 640x420, 2 series, 1 points skipped]', 'terminal summary')
  local b = dode.display.bundle(chart)
  t:eq(b['image/svg+xml'], chart.svg, 'bundle: image/svg+xml')
  local path = tmpdir .. '/c.svg'
  t:eq(chart:save(path), path, 'save returns the path')
  t:eq(read(path), chart.svg, 'saved text')
  local p2 = tmpdir .. '/s.svg'
  local sc = plot.scatter{ series = { { points = dode.randn(dode.Generator(1), 20, 2) } }, path = p2 }
  t:eq(sc.kind, 'scatter', 'scatter kind'); t:eq(sc.path, p2, 'path kept')
  t:eq(read(p2), sc.svg, 'file written as before')
  t:raises(function() chart:save('') end, { 'dode.Chart:save', 'file path' })
  t:raises(function() chart:save(tmpdir .. '/no/dir/c.svg') end, { 'dode.Chart:save', 'does not exist' })
  t:raises(function() chart.save(5) end, { 'dode.Chart:save', 'method' })
  t:raises(function() chart:save(dode.tensor(1)) end,
    { 'dode.Chart:save', 'a file path such as "plot.svg" (got a tensor of shape scalar)' })
end)

T:add('tables render as HTML', function(t)
  local tb = rtable.new{ columns = { 'solver', 'rmse', 'note' }, formats = { rmse = '%.2e' } }
  tb:add{ 'a<b>', 0.012345, 'x & "y"' }
  tb:add{ solver = 'ddim', rmse = 1 }
  local html = tb:html()
  t:ok(html:find('<table', 1, true) and html:find('</table>', 1, true), 'a table element')
  t:ok(html:find('<th>solver</th><th>rmse</th><th>note</th>', 1, true), 'header cells in order')
  t:ok(html:find('<td style="text-align:left">a&lt;b&gt;</td>', 1, true), 'text escaped, left-aligned')
  t:ok(html:find('<td style="text-align:right">1.23e-02</td>', 1, true),
    'numbers formatted as on the console, right-aligned')
  t:ok(html:find('x &amp; &quot;y&quot;', 1, true), 'quotes and ampersands escaped')
  local _, rows = html:gsub('<tr>', '')
  t:eq(rows, 3, 'header row and two rows')
  local b = dode.display.bundle(tb)
  t:eq(b['text/html'], html, 'bundle: text/html')
  t:eq(b['text/plain'], tb:render(), 'bundle: the console text')
  t:eq(tostring(tb), tb:render(), 'print(tb) unchanged')
  t:raises(function() tb.html(5) end, { 'dode.table.html', 'method' })
end)

T:add('dode.display in a terminal prints the text', function(t)
  t:eq(dode.display.active(), false, 'not in a notebook')
  local tb = rtable.new{ columns = { 'a' } }
  tb:add{ 1 }
  local lines = captured(function()
    t:eq(dode.display(tb), nil, 'no id')
    t:eq(dode.display(dode.display.html('<b>x</b>'), { id = 'one' }), 'one', 'the id comes back')
    dode.display.update('one', 42)
    dode.display(setmetatable({}, { __display = function() return { ['text/html'] = '<i>h</i>' } end,
      __tostring = function() return 'custom' end }))
  end)
  t:eq(lines[1], tb:render(), 'a table prints as on the console')
  t:eq(lines[2], '<b>x</b>', 'HTML prints its text')
  t:eq(lines[3], '42', 'an update prints the new value')
  t:eq(lines[4], 'custom', 'a custom __display object prints its tostring')
  local b = dode.display.bundle(setmetatable({}, { __display = function() return { ['text/html'] = '<i>h</i>' } end,
    __tostring = function() return 'custom' end }))
  t:eq(b['text/html'], '<i>h</i>', 'custom bundle kept'); t:eq(b['text/plain'], 'custom', 'text/plain added')
  t:eq(dode.display.bundle(3)['text/plain'], '3', 'plain values: their tostring')
  local png = dode.display.png(dode.image.grid(dode.zeros(1, 64)).png)
  t:eq(png.width, 34, 'dode.display.png reads the size'); t:eq(png.height, 34, 'height')
  t:ok(dode.display.svg('<svg/>') and tostring(dode.display.svg('<svg/>')):find('SVG image', 1, true),
    'svg object text')
  t:eq(dode.display.bundle(dode.display.markdown('# hi'))['text/markdown'], '# hi', 'markdown')
end)

T:add('bad arguments are errors naming the function', function(t)
  t:raises(function() dode.display() end, { 'dode.display', 'argument 1' })
  t:raises(function() dode.display(1, 5) end, { 'dode.display', 'options must be a table' })
  t:raises(function() dode.display(1, { ids = 'x' }) end, { 'dode.display', "unknown option 'ids'" })
  t:raises(function() dode.display(1, { id = 3 }) end, { 'dode.display', "option 'id'", 'the number 3' })
  t:raises(function() dode.display.update(nil, 1) end, { 'dode.display.update', 'argument 1', 'nil' })
  t:raises(function() dode.display.html(5) end, { 'dode.display.html', 'argument 1', 'the number 5' })
  t:raises(function() dode.display.html('\255') end, { 'dode.display.html', 'UTF-8' })
  t:raises(function() dode.display.png('abc') end, { 'dode.display.png', 'not a PNG' })
  t:raises(function() dode.display.chart(5) end, { 'dode.display.chart', 'the number 5' })
  t:raises(function() dode.display(setmetatable({}, { __display = function() return 7 end })) end,
    { 'dode.display', '__display', 'MIME bundle', 'the number 7' })
  t:raises(function() dode._display_send({ ['text/plain'] = 5 }) end, { "'text/plain'", 'must be a string' })
  t:raises(function() dode._display_send({ plain = 'x' }) end, { "'plain'", 'not a MIME type' })
  local ok, err = pcall(function() dode.display.html(5) end)
  t:ok(not ok and err:find('test_display.lua:%d+:'), 'the message carries the caller\'s file:line: ' .. tostring(err))
end)

T:add('notebook hooks: cell results and inspection', function(t)
  local R = dode.display._result
  t:eq(R(), nil, 'no value, no result')
  t:eq(R(1, 'a', nil)['text/plain'], '1\ta\tnil', 'several plain values: tab-separated, as print writes them')
  local chart = plot.line{ series = { { y = { 1, 2 } } } }
  local b = R(chart, 0, {})
  t:ok(b['image/svg+xml'] ~= nil, 'a rich first value shows alone')
  t:ok(dode.display._inspect('dode.linspace'):find('evenly spaced', 1, true), 'help text of a function')
  t:ok(dode.display._inspect('dode.Tensor.norm'):find('norm', 1, true), 'a method')
  _G.__display_test_value = 5
  t:eq(dode.display._inspect('__display_test_value'), 'number: 5', 'a value without help: its type and text')
  _G.__display_test_value = nil
  t:eq(dode.display._inspect('no_such_name'), nil, 'unknown names: nil')
  t:eq(dode.display._inspect('os.exit()'), nil, 'only names are evaluated')
  t:eq(dode.display._live_writer(), nil, 'no live progress line outside a notebook')
end)

T:add('cleanup', function(t)
  t:ok(os.execute("rm -rf '" .. tmpdir .. "'"), 'temporary folder removed')
end)

T:run()
