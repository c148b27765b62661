-- dode.plot, dode.table and dode.progress: SVG that parses as XML (checked by a strict
-- well-formedness parser below), log-axis ticks, skipped points, escaped legends, aligned
-- tables, CSV/JSON round trips, and quiet or degenerate progress bars. Files go to a
-- temporary folder that the last test removes.
local T = require('dode.tester').new('plot, table, progress')
local plot = require 'dode.plot'
local rtable = require 'dode.table'
local progress = require 'dode.progress'

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

local tmpdir = os.tmpname()
os.remove(tmpdir)
assert(os.execute('mkdir -p ' .. shell_quote(tmpdir)), 'cannot create ' .. tmpdir)
local created = {}
local function tmp(name)
  local p = tmpdir .. '/' .. name
  created[#created + 1] = p
  return p
end

local read = require('dode.tester').read_file

local function exists(path)
  local f = io.open(path, 'rb')
  if f then f:close() return true end
  return false
end

---------------------------------------------------------------------------------------------
-- A strict XML 1.0 well-formedness checker (no DTDs): one root element, balanced tags, names,
-- quoted attributes without duplicates or '<', valid entity and character references, valid
-- UTF-8, no forbidden control characters, no ']]>' in text. Returns the root element
-- {name=, attrs=, children=} (children are elements or text strings, entities decoded), or
-- nil and a message with the byte offset.

local NAME = '^[A-Za-z_:\128-\255][%w_:%.%-\128-\255]*'
local ENTITIES = { amp = '&', lt = '<', gt = '>', quot = '"', apos = "'" }

local function decode_refs(s, where)
  local out, i = {}, 1
  while true do
    local a = s:find('&', i, true)
    if not a then out[#out + 1] = s:sub(i); break end
    out[#out + 1] = s:sub(i, a - 1)
    local b = s:find(';', a, true)
    if not b then return nil, 'unterminated reference at ' .. where end
    local ref = s:sub(a + 1, b - 1)
    if ENTITIES[ref] then
      out[#out + 1] = ENTITIES[ref]
    elseif ref:match('^#%d+$') or ref:match('^#x%x+$') then
      local cp = ref:sub(2, 2) == 'x' and tonumber(ref:sub(3), 16) or tonumber(ref:sub(2))
      local ok = cp == 0x9 or cp == 0xA or cp == 0xD or (cp >= 0x20 and cp <= 0xD7FF)
        or (cp >= 0xE000 and cp <= 0xFFFD) or (cp >= 0x10000 and cp <= 0x10FFFF)
      if not ok then return nil, 'invalid character reference &' .. ref .. '; at ' .. where end
      out[#out + 1] = utf8.char(cp)
    else
      return nil, 'unknown entity &' .. ref .. '; at ' .. where
    end
    i = b + 1
  end
  return table.concat(out)
end

local function parse_xml(s)
  if type(s) == 'table' then s = s.svg end   -- plot.line/scatter return a chart object
  if not utf8.len(s) then return nil, 'not valid UTF-8' end
  local bad_ctl = s:find('[%z\1-\8\11\12\14-\31]')
  if bad_ctl then return nil, 'forbidden control character at ' .. bad_ctl end
  local i, n = 1, #s
  if s:sub(1, 5) == '<?xml' then
    local e = s:find('?>', 1, true)
    if not e then return nil, 'unterminated XML declaration' end
    local decl = s:sub(6, e - 1)
    if not decl:match('^%s+version%s*=%s*["\']1%.[01]["\']') then return nil, 'bad XML declaration' end
    i = e + 2
  end
  local root, stack = nil, {}
  local function add_text(text, at)
    if text == '' then return true end
    if text:find(']]>', 1, true) then return nil, "']]>' in text at " .. at end
    local top = stack[#stack]
    if not top then
      if text:match('^%s*$') then return true end
      return nil, 'text outside the root element at ' .. at
    end
    local decoded, err = decode_refs(text, at)
    if not decoded then return nil, err end
    top.children[#top.children + 1] = decoded
    return true
  end
  while i <= n do
    local lt = s:find('<', i, true)
    local ok, err = add_text(s:sub(i, (lt or n + 1) - 1), i)
    if not ok then return nil, err end
    if not lt then break end
    if s:sub(lt, lt + 3) == '<!--' then
      local e = s:find('-->', lt + 4, true)
      if not e then return nil, 'unterminated comment at ' .. lt end
      if s:sub(lt + 4, e - 1):find('--', 1, true) then return nil, "'--' inside a comment at " .. lt end
      i = e + 3
    elseif s:sub(lt, lt + 1) == '<?' then
      local e = s:find('?>', lt + 2, true)
      if not e then return nil, 'unterminated processing instruction at ' .. lt end
      if s:sub(lt + 2, lt + 4):lower() == 'xml' then return nil, 'misplaced XML declaration at ' .. lt end
      i = e + 2
    elseif s:sub(lt, lt + 8) == '<![CDATA[' then
      if #stack == 0 then return nil, 'CDATA outside the root at ' .. lt end
      local e = s:find(']]>', lt + 9, true)
      if not e then return nil, 'unterminated CDATA at ' .. lt end
      local top = stack[#stack]
      top.children[#top.children + 1] = s:sub(lt + 9, e - 1)
      i = e + 3
    elseif s:sub(lt, lt + 1) == '<!' then
      return nil, 'declarations (<!...>) are not expected at ' .. lt
    elseif s:sub(lt, lt + 1) == '</' then
      local name = s:match(NAME, lt + 2)
      if not name then return nil, 'bad end tag at ' .. lt end
      local j = lt + 2 + #name
      local sp = s:match('^%s*', j)
      j = j + #sp
      if s:sub(j, j) ~= '>' then return nil, 'bad end tag </' .. name .. ' at ' .. lt end
      local top = table.remove(stack)
      if not top then return nil, 'end tag </' .. name .. '> without a start tag at ' .. lt end
      if top.name ~= name then
        return nil, string.format('end tag </%s> does not match <%s> at %d', name, top.name, lt)
      end
      i = j + 1
    else
      local name = s:match(NAME, lt + 1)
      if not name then return nil, 'bad tag name at ' .. lt end
      local el = { name = name, attrs = {}, children = {} }
      local j = lt + 1 + #name
      local closed, selfclosing = false, false
      while j <= n do
        local sp = s:match('^%s*', j)
        local had_space = #sp > 0
        j = j + #sp
        local c = s:sub(j, j)
        if c == '>' then closed = true; j = j + 1; break end
        if c == '/' then
          if s:sub(j + 1, j + 1) ~= '>' then return nil, "stray '/' in tag <" .. name .. '> at ' .. j end
          closed, selfclosing = true, true; j = j + 2; break
        end
        if not had_space then return nil, 'attributes of <' .. name .. '> need white space before them at ' .. j end
        local aname = s:match(NAME, j)
        if not aname then return nil, 'bad attribute name in <' .. name .. '> at ' .. j end
        j = j + #aname
        local eq = s:match('^%s*=%s*', j)
        if not eq then return nil, 'attribute ' .. aname .. ' has no value at ' .. j end
        j = j + #eq
        local q = s:sub(j, j)
        if q ~= '"' and q ~= "'" then return nil, 'attribute ' .. aname .. ' is not quoted at ' .. j end
        local e = s:find(q, j + 1, true)
        if not e then return nil, 'unterminated attribute ' .. aname .. ' at ' .. j end
        local raw = s:sub(j + 1, e - 1)
        if raw:find('<', 1, true) then return nil, "'<' in attribute " .. aname .. ' at ' .. j end
        local v, derr = decode_refs(raw, j)
        if not v then return nil, derr end
        if el.attrs[aname] ~= nil then return nil, 'duplicate attribute ' .. aname .. ' at ' .. j end
        el.attrs[aname] = v
        j = e + 1
      end
      if not closed then return nil, 'unterminated tag <' .. name .. '> at ' .. lt end
      if #stack == 0 then
        if root then return nil, 'a second root element <' .. name .. '> at ' .. lt end
        root = el
      else
        local top = stack[#stack]
        top.children[#top.children + 1] = el
      end
      if not selfclosing then stack[#stack + 1] = el end
      i = j
    end
  end
  if #stack > 0 then return nil, 'unclosed element <' .. stack[#stack].name .. '>' end
  if not root then return nil, 'no root element' end
  return root
end

local function walk(el, fn)
  fn(el)
  for _, c in ipairs(el.children) do
    if type(c) == 'table' then walk(c, fn) end
  end
end

local function text_of(el)
  local parts = {}
  for _, c in ipairs(el.children) do
    if type(c) == 'string' then parts[#parts + 1] = c else parts[#parts + 1] = text_of(c) end
  end
  return table.concat(parts)
end

--- Every <text> element's content, and a set of them.
local function texts(root)
  local list, set = {}, {}
  walk(root, function(el)
    if el.name == 'text' then
      local s = text_of(el)
      list[#list + 1] = { s = s, el = el }
      set[s] = true
    end
  end)
  return list, set
end

local function find_class(root, class)
  local found
  walk(root, function(el) if not found and el.attrs.class == class then found = el end end)
  return found
end

T:add('the XML checker itself rejects malformed documents', function(t)
  t:ok(parse_xml('<?xml version="1.0"?>\n<a x="1"><b/>t &amp; &#x41;<c y=\'2\'>z</c></a>\n'), 'a good document parses')
  local bad = {
    '<a><b></a></b>', '<a x=1/>', '<a x="1" x="2"/>', '<a>&nbsp;</a>', '<a>&amp</a>', '<a/><b/>',
    '<a>', '</a>', '<a x="<"/>', 'text<a/>', '<a>\1</a>', '<a>\xff</a>', '<a b="1"c="2"/>', '<a>&#0;</a>',
  }
  for _, doc in ipairs(bad) do
    t:ok(parse_xml(doc) == nil, 'rejects ' .. doc)
  end
end)

---------------------------------------------------------------------------------------------
-- dode.plot

local function solver_series()
  local nfe = { 4, 5, 6, 8, 10, 15, 20 }
  local series = {}
  for i, name in ipairs { 'DDIM', 'DPM-Solver++(2M)', 'iPNDM' } do
    local base, d = {}, {}
    for j, n in ipairs(nfe) do
      base[j] = 0.5 * i / n ^ 2
      d[j] = base[j] / 3
    end
    series[#series + 1] = { name = name, group = name, x = nfe, y = dode.tensor(base), marker = true }
    series[#series + 1] = { name = 'D-' .. name, group = name, x = dode.tensor(nfe), y = d, style = 'dashed' }
  end
  return series
end

T:add('line chart: well-formed SVG written atomically', function(t)
  local path = tmp('rmse.svg')
  local svg = plot.line{
    series = solver_series(), title = 'RMSE & NFE <digits>', xlabel = 'NFE', ylabel = 'RMSE',
    xlog = true, ylog = true, path = path,
  }
  local root, err = parse_xml(svg)
  t:ok(root, 'SVG parses as XML: ' .. tostring(err))
  if not root then return end
  t:eq(root.name, 'svg', 'root element')
  t:eq(root.attrs.xmlns, 'http://www.w3.org/2000/svg', 'SVG namespace')
  t:eq(root.attrs.width, '640', 'default width')
  t:eq(root.attrs.height, '420', 'default height')
  t:eq(svg.skipped, 0, 'nothing skipped')
  t:eq(read(path), svg.svg, 'the file holds the returned text')
  t:ok(not exists(path .. '.tmp'), 'no temporary file left')
  local _, set = texts(root)
  t:ok(set['RMSE & NFE <digits>'], 'title text (escaped in the file, decoded here)')
  t:ok(svg.svg:find('RMSE &amp; NFE &lt;digits&gt;', 1, true), 'title escaped')
  t:ok(set['NFE'] and set['RMSE'], 'axis labels')
  local polylines = 0
  walk(root, function(el) if el.name == 'polyline' then polylines = polylines + 1 end end)
  t:eq(polylines, 6, 'one line per series')
end)

T:add('line chart: log-axis decade ticks and labels', function(t)
  local y = { 2e-4, 1e-3, 1e-2, 0.09 }
  local svg = plot.line{ series = { { name = 'a', x = { 1, 10, 100, 1000 }, y = y } }, xlog = true, ylog = true }
  local root, err = parse_xml(svg)
  t:ok(root, 'parses: ' .. tostring(err))
  if not root then return end
  local _, set = texts(root)
  for _, label in ipairs { '0.001', '0.01', '10', '100' } do t:ok(set[label], 'tick label ' .. label) end
  t:ok(set['1'] and set['1000'], 'x decades at the ends')
  -- Many decades switch to 1e-k labels throughout.
  local svg2 = plot.line{ series = { { x = { 1, 2, 3 }, y = { 1e-9, 1e-5, 1 } } }, ylog = true }
  local root2 = parse_xml(svg2)
  t:ok(root2, 'wide log range parses')
  local _, set2 = texts(root2)
  t:ok(set2['1e-8'] and set2['1e-4'] and set2['1e0'], 'scientific decade labels')
  t:ok(not set2['0.001'], 'no mixed label styles')
  -- Minor ticks (2..9 x 10^k) appear as short tick marks.
  local ticks = find_class(root, 'ticks')
  t:ok(ticks and #ticks.children > 12, 'minor ticks drawn')
  -- Less than a decade still gets at least two labels.
  local root3 = parse_xml(plot.line{ series = { { x = { 1, 2 }, y = { 0.031, 0.035 } } }, ylog = true })
  local labels = 0
  for _, tx in ipairs(texts(root3)) do
    if tx.el.attrs['text-anchor'] == 'end' then labels = labels + 1 end
  end
  t:ok(labels >= 2, 'narrow log range has y labels (' .. labels .. ')')
end)

T:add('line chart: skipped points are counted, not fatal', function(t)
  local svg = plot.line{
    series = {
      { name = 'bad y', x = { 1, 2, 3, 4, 5, 6 }, y = { 0.1, -1, 0, 0 / 0, math.huge, 0.01 } },
      { name = 'bad x', x = { -1, 1, 2 }, y = { 1, 2, 3 } },
      { name = 'fine', x = { 1, 2 }, y = { 1, 2 } },
    },
    xlog = true, ylog = true,
  }
  local skipped, per = svg.skipped, svg.skipped_per_series
  t:eq(skipped, 5, 'four bad y values and one non-positive x')
  t:eq(per[1], 4, 'per series 1'); t:eq(per[2], 1, 'per series 2'); t:eq(per[3], 0, 'per series 3')
  t:ok(parse_xml(svg), 'still well-formed')
  local sk2 = plot.line{ series = { { x = { 1, 2 }, y = { 0 / 0, 1 } } } }.skipped
  t:eq(sk2, 1, 'NaN skipped on a linear axis')
  local svg3 = plot.line{ series = { { name = 'none', y = { -1, -2 } } }, ylog = true }
  local sk3 = svg3.skipped
  t:eq(sk3, 2, 'every point skipped')
  local root3 = parse_xml(svg3)
  t:ok(root3, 'an empty chart is still well-formed')
  t:ok(root3 and find_class(root3, 'no-data'), 'it says there is nothing to draw')
  t:ok(parse_xml((plot.line{ series = { { y = { 5 } } } })), 'one point')
  t:ok(parse_xml((plot.line{ series = { { y = { 3, 3, 3 } } } })), 'constant values')
  t:ok(parse_xml((plot.line{ series = { { x = {}, y = {} } } })), 'empty series')
  t:ok(parse_xml((plot.line{ series = { { y = { 1e300, -1e300 } } } })), 'huge values')
end)

T:add('line chart: legend names escaped, pairs share a colour', function(t)
  local weird = 'A <b> & "c" \'d\''
  local series = solver_series()
  series[1].name = weird
  local svg = plot.line{ series = series, legend = 'inside' }
  local root, err = parse_xml(svg)
  t:ok(root, 'parses: ' .. tostring(err))
  if not root then return end
  local legend = find_class(root, 'legend')
  t:ok(legend, 'a legend group')
  if not legend then return end
  local _, names = texts(legend)
  t:ok(names[weird], 'the legend shows the name exactly')
  t:ok(names['D-DPM-Solver++(2M)'] and names['iPNDM'], 'every series is listed')
  t:ok(svg.svg:find('A &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;', 1, true), 'escaped in the file')
  local solid, dashed = {}, {}
  walk(find_class(root, 'data'), function(el)
    if el.name == 'polyline' then
      if el.attrs['stroke-dasharray'] then
        dashed[#dashed + 1] = el.attrs.stroke
      else
        solid[#solid + 1] = el.attrs.stroke
      end
    end
  end)
  t:eq(#solid, 3, 'three solid lines'); t:eq(#dashed, 3, 'three dashed lines')
  for i = 1, 3 do t:eq(dashed[i], solid[i], 'pair ' .. i .. ' shares a colour') end
  t:ok(solid[1] ~= solid[2] and solid[2] ~= solid[3], 'different solvers differ')
  local no_legend = parse_xml(plot.line{ series = series, legend = false })
  t:ok(no_legend and not find_class(no_legend, 'legend'), 'legend = false')
  -- A legend too wide for the right side goes below the chart, which grows taller.
  local many = {}
  for i = 1, 24 do many[i] = { name = 'a rather long solver name number ' .. i, y = { i, i + 1 } } end
  local tall = parse_xml(plot.line{ series = many, width = 640, height = 420 })
  t:ok(tall, 'many series parse')
  if tall then
    t:eq(tall.attrs.width, '640', 'width kept')
    t:ok(tonumber(tall.attrs.height) > 420, 'taller for a legend below: ' .. tall.attrs.height)
    local _, all = texts(find_class(tall, 'legend'))
    t:ok(all['a rather long solver name number 24'], 'the last entry is there')
  end
end)

T:add('line chart: argument errors name the problem', function(t)
  t:raises(function() plot.line{ series = {} } end, { 'dode.plot.line', 'series must be a non-empty list' })
  t:raises(function() plot.line() end, { 'dode.plot.line', 'expected a table' })
  t:raises(function() plot.line{ series = { { x = { 1, 2 }, y = { 1 } } } } end,
    { 'series[1].x has 2 values', 'series[1].y has 1', 'same length' })
  t:raises(function() plot.line{ series = { { y = { 1, 'a' } } } } end,
    { 'series[1].y[2] must be a number', "string ('a')" })
  t:raises(function() plot.line{ series = { { y = { 1 }, style = 'wavy' } } } end, { "'solid', 'dashed'", 'wavy' })
  t:raises(function() plot.line{ series = { { y = { 1 }, colour = 'red' } } } end, { "unknown field 'colour'" })
  t:raises(function() plot.line{ series = { { y = { 1 } } }, xlabels = 'x' } end, { "unknown field 'xlabels'" })
  t:raises(function() plot.line{ series = { { x = { 1 } } } } end, { 'series[1].y is missing' })
  t:raises(function() plot.line{ series = { { y = dode.zeros(2, 3) } } } end, { '1-D tensor', '2x3' })
  t:raises(function() plot.line{ series = { { y = { 1 } } }, ylog = true, ylim = { 0, 1 } } end, { 'ylim', 'positive' })
  t:raises(function() plot.line{ series = { { y = { 1 } } }, width = 'wide' } end, { 'width must be a number' })
  t:raises(function() plot.line{ series = { { y = { 1 } } }, path = tmpdir .. '/no/such/dir/p.svg' } end,
    { 'dode.plot.line', 'cannot write' })
  local ok, err = pcall(function() plot.line{ series = {} } end)
  t:ok(not ok and err:find('test_plot_table_progress.lua:', 1, true),
    'the error points at the caller: ' .. tostring(err))
end)

T:add('scatter: points, alpha, equal scale', function(t)
  local g = dode.Generator(7)
  local a = dode.randn(g, 200, 2)
  local b = {}
  for i = 1, 50 do b[i] = { 4 + 0.1 * i, 0.5 * math.sin(i) } end
  b[51] = { 0 / 0, 1 }
  local path = tmp('samples.svg')
  local svg = plot.scatter{
    series = { { name = 'teacher', points = a }, { name = 'student <D>', points = b, size = 3, alpha = 0.4 } },
    title = 'samples', xlabel = 'x1', ylabel = 'x2', path = path,
  }
  t:eq(svg.skipped, 1, 'the NaN point is skipped')
  local root, err = parse_xml(svg)
  t:ok(root, 'parses: ' .. tostring(err))
  if not root then return end
  t:ok(exists(path) and not exists(path .. '.tmp'), 'written atomically')
  local counts, opacity = {}, {}
  walk(find_class(root, 'data'), function(el)
    if el.attrs.class == 'series' then
      local n = 0
      for _, c in ipairs(el.children) do if type(c) == 'table' and c.name == 'circle' then n = n + 1 end end
      counts[#counts + 1] = n
      opacity[#opacity + 1] = el.attrs['fill-opacity']
    end
  end)
  t:eq(counts[1], 200, 'one dot per tensor row'); t:eq(counts[2], 50, 'list points')
  t:eq(opacity[1], '0.6', 'default alpha'); t:eq(opacity[2], '0.4', 'given alpha')
  local _, names = texts(find_class(root, 'legend'))
  t:ok(names['student <D>'], 'legend name')
  -- Same pixels per unit on both axes: read the tick label positions.
  local xs, ys = {}, {}
  for _, tx in ipairs(texts(find_class(root, 'tick-labels'))) do
    local v = tonumber(tx.s)
    if v then
      if tx.el.attrs['text-anchor'] == 'middle' then xs[#xs + 1] = { v, tonumber(tx.el.attrs.x) } end
      if tx.el.attrs['text-anchor'] == 'end' then ys[#ys + 1] = { v, tonumber(tx.el.attrs.y) } end
    end
  end
  t:ok(#xs >= 2 and #ys >= 2, 'tick labels on both axes')
  if #xs >= 2 and #ys >= 2 then
    local sx = (xs[#xs][2] - xs[1][2]) / (xs[#xs][1] - xs[1][1])
    local sy = (ys[1][2] - ys[#ys][2]) / (ys[#ys][1] - ys[1][1])
    t:close(sx, sy, 0.01, 'equal scale (px per unit)')
  end
  local free = parse_xml(plot.scatter{ series = { { points = b } }, equal = false })
  t:ok(free, 'equal = false parses')
  t:raises(function() plot.scatter{ series = { { points = { { 1 } } } } } end,
    { 'dode.plot.scatter', 'points[1]', 'pair' })
  t:raises(function() plot.scatter{ series = { { points = dode.zeros(3, 3) } } } end, { 'Nx2 tensor', '3x3' })
  t:raises(function() plot.scatter{ series = { { points = { { 1, 2 } }, alpha = 2 } } } end,
    { 'alpha', 'between 0 and 1' })
end)

T:add('help text is registered', function(t)
  local out = {}
  local saved = print
  print = function(...) out[#out + 1] = table.concat({ ... }, '\t') end
  local ok, err = pcall(function()
    help(plot.line); help(plot.scatter); help(rtable.new); help(progress.new)
    local tb = rtable.new{ columns = { 'a' } }
    help(tb.add)
  end)
  print = saved
  t:ok(ok, tostring(err))
  local text = table.concat(out, '\n')
  t:ok(text:find('dode.plot.line{series', 1, true), 'plot.line signature')
  t:ok(text:find('dode.plot.scatter{series', 1, true), 'plot.scatter signature')
  t:ok(text:find('dode.table.new{columns', 1, true), 'table.new signature')
  t:ok(text:find('dode.progress.new{total', 1, true), 'progress.new signature')
  t:ok(text:find('tb:add{', 1, true), 'method help')
end)

---------------------------------------------------------------------------------------------
-- dode.table

local function results()
  local tb = rtable.new{ columns = { 'solver', 'nfe', 'rmse_base', 'rmse_d' }, formats = { rmse_base = '%.3e' } }
  tb:add{ solver = 'ddim', nfe = 5, rmse_base = 0.12, rmse_d = 0.0412 }
  tb:add{ 'dpm++(2M)', 10, 0.0123456, 0.004 }
  tb:add{ solver = 'σ-heun', nfe = 20 }
  return tb
end

T:add('table: aligned rendering', function(t)
  local tb = results()
  local text = tb:render()
  t:eq(tostring(tb), text, 'tostring renders')
  t:eq(#tb, 3, '#tb is the row count')
  local lines = {}
  for line in (text .. '\n'):gmatch('(.-)\n') do lines[#lines + 1] = line end
  t:eq(#lines, 5, 'header, rule and three rows')
  local w = utf8.len(lines[1])
  for i, line in ipairs(lines) do t:eq(utf8.len(line), w, 'line ' .. i .. ' width') end
  t:ok(lines[2]:match('^[- ]+$'), 'a rule line')
  t:ok(lines[3]:find('1.200e-01', 1, true), 'column format applied')
  t:ok(lines[4]:find('0.004', 1, true), 'default number format')
  -- Numbers right-aligned: the last digit of 5, 10 and 20 ends in the same place.
  local e1 = select(2, lines[3]:find(' 5 ', 1, true)) - 1
  local e2 = select(2, lines[4]:find('10', 1, true))
  t:eq(e1, e2, 'numbers right-aligned')
  t:ok(lines[3]:sub(1, 4) == 'ddim' and lines[5]:find('^σ%-heun'), 'text left-aligned')
  t:ok(lines[1]:find('^solver'), 'text header left-aligned')
end)

T:add('table: rows, columns, sort', function(t)
  local tb = results()
  local nfe, n = tb:column('nfe')
  t:eq(n, 3, 'row count'); t:eq(nfe[1], 5, 'column values'); t:eq(nfe[3], 20, 'column values')
  local rmse_d = tb:column('rmse_d')
  t:eq(rmse_d[3], nil, 'empty cell is nil')
  local rows = tb:rows()
  rows[1].solver = 'changed'
  t:eq(tb:rows()[1].solver, 'ddim', 'rows() returns copies')
  tb:sort('rmse_d')
  t:eq(tb:column('solver')[1], 'dpm++(2M)', 'ascending')
  t:eq(tb:column('solver')[3], 'σ-heun', 'empty cells last')
  tb:sort('nfe', true)
  t:eq(table.concat(tb:column('nfe'), ','), '20,10,5', 'descending')
  local s = rtable.new{ columns = { 'k', 'i' } }
  for i = 1, 20 do s:add{ i % 2, i } end
  s:sort('k')
  local order = s:column('i')
  t:eq(table.concat(order, ',', 1, 10), '2,4,6,8,10,12,14,16,18,20', 'stable sort')
  t:eq(s:add{ k = dode.tensor{ 3 } }, s, 'add chains; one-element tensor accepted')
  t:eq(s:column('k')[21], 3.0, 'tensor cell became a number')
end)

T:add('table: argument errors', function(t)
  t:raises(function() rtable.new{} end, { 'dode.table.new', 'columns must be a non-empty list' })
  t:raises(function() rtable.new{ columns = { 'a', 'a' } } end, { "column 'a' appears twice" })
  t:raises(function() rtable.new{ columns = { 'a' }, formats = { b = '%d' } } end, { "'b'", 'not in columns' })
  t:raises(function() rtable.new{ columns = { 'a' }, formats = { a = 'x' } } end,
    { 'formats.a', 'string.format pattern' })
  local tb = rtable.new{ columns = { 'a', 'b' } }
  t:raises(function() tb:add{ c = 1 } end, { 'dode.table.add', "unknown column 'c'", 'a, b' })
  t:raises(function() tb:add{ 1, 2, 3 } end, { 'position 3', '2 columns' })
  t:raises(function() tb:add{ 1, a = 2 } end, { "column 'a' is given both" })
  t:raises(function() tb:add{ a = {} } end, { "column 'a' takes a number, string or boolean" })
  t:raises(function() tb:sort('z') end, { 'dode.table.sort', "unknown column 'z'" })
  t:raises(function() tb:column('z') end, { 'dode.table.column', "unknown column 'z'" })
  t:raises(function() tb.add(nil, {}) end, { 'tb:add' })
  -- Values are described as in dode.plot (one dode.util.describe): a 0-D tensor names its shape.
  t:raises(function() rtable.new{ columns = dode.tensor(3) } end,
    { 'dode.table.new', 'columns must be a non-empty list of names (got a tensor of shape scalar)' })
  local ok, err = pcall(function() tb:add{ c = 1 } end)
  t:ok(not ok and err:find('test_plot_table_progress.lua:', 1, true),
    'the error points at the caller: ' .. tostring(err))
end)

T:add('table: CSV round trip with commas and quotes', function(t)
  local tricky = 'dpm, "fast" variant'
  local tb = rtable.new{ columns = { 'solver', 'nfe', 'rmse', 'ok' } }
  tb:add{ tricky, 5, 1 / 3, true }
  tb:add{ 'line\nbreak', 10, 1e-17, false }
  tb:add{ ' padded ', nil, nil, nil }
  local path = tmp('results.csv')
  t:eq(tb:save_csv(path), path, 'returns the path')
  t:ok(not exists(path .. '.tmp'), 'no temporary file left')
  local raw = read(path)
  t:ok(raw:find('^solver,nfe,rmse,ok\r\n"dpm'), 'header line with CRLF')
  t:ok(raw:find('"dpm, ""fast"" variant",5,', 1, true), 'RFC 4180 quoting')
  local back = rtable.load_csv(path)
  local rows = back:rows()
  t:eq(#rows, 3, 'row count')
  t:eq(rows[1].solver, tricky, 'comma and quotes survive')
  t:eq(rows[1].nfe, 5, 'integer'); t:eq(rows[1].rmse, 1 / 3, 'full precision'); t:eq(rows[1].ok, true, 'boolean')
  t:eq(rows[2].solver, 'line\nbreak', 'line break inside a field')
  t:eq(rows[2].rmse, 1e-17, 'tiny number')
  t:eq(rows[3].solver, ' padded ', 'spaces kept')
  t:eq(rows[3].nfe, nil, 'empty field')
end)

T:add('table: JSON loads back with dode.load', function(t)
  local tb = results()
  tb:add{ solver = 'nan', nfe = 0 / 0 }
  local path = tmp('results.json')
  t:eq(tb:save_json(path), path, 'returns the path')
  t:ok(not exists(path .. '.tmp'), 'no temporary file left')
  local v = dode.load(path)
  t:eq(table.concat(v.columns, ','), 'solver,nfe,rmse_base,rmse_d', 'column order')
  t:eq(#v.rows, 4, 'row count')
  t:eq(v.rows[1].solver, 'ddim', 'string'); t:eq(v.rows[1].nfe, 5, 'number')
  t:eq(v.rows[2].rmse_base, 0.0123456, 'full precision, not the display format')
  t:eq(v.rows[3].solver, 'σ-heun', 'UTF-8')
  t:eq(v.rows[3].rmse_d, dode.json.null, 'empty cell is null')
  t:eq(v.rows[4].nfe, dode.json.null, 'NaN is null')
  local raw = read(path)
  t:ok(raw:find('"solver": "ddim", "nfe": 5', 1, true), 'keys in column order')
  local empty = rtable.new{ columns = { 'a' } }
  local epath = tmp('empty.json')
  empty:save_json(epath)
  t:ok(read(epath):find('"rows": []', 1, true), 'no rows is an empty list')
  t:eq(#dode.load(epath).rows, 0, 'empty loads')
end)

---------------------------------------------------------------------------------------------
-- dode.progress

local function capture()
  local buf = {}
  return buf, function(s) buf[#buf + 1] = s end
end

local function spin(seconds)
  local t0 = dode.clock()
  while dode.clock() - t0 < seconds do end
end

T:add('progress: quiet writes nothing', function(t)
  local buf, write = capture()
  local p = progress.new{ total = 100, label = 'quiet', quiet = true, every = 0, write = write }
  for i = 1, 100 do p:update(i, 'note') end
  p:advance(5)
  p:finish('done')
  local buf2, write2 = capture()
  local p2 = progress.new{ total = 3, quiet = true, tty = true, write = write2 }
  p2:update(1); p2:finish()
  t:eq(#buf + #buf2, 0, 'no output at all')
end)

T:add('progress: total = 0 and zero elapsed time', function(t)
  local buf, write = capture()
  local p = progress.new{ total = 0, label = 'empty', write = write, tty = false, quiet = false }
  local elapsed = p:finish()
  t:ok(type(elapsed) == 'number', 'finish returns the elapsed time')
  t:eq(#buf, 1, 'one final line')
  local line = buf[1] or ''
  t:ok(line:find('0/0', 1, true) and line:find('100%', 1, true), 'complete: ' .. line)
  t:ok(not line:find('nan') and not line:find('inf'), 'no nan or inf: ' .. line)
  local buf2, write2 = capture()
  local q = progress.new{ total = 10, write = write2, tty = true, quiet = false }
  q:update(10); q:finish()
  for _, s in ipairs(buf2) do t:ok(not s:find('nan') and not s:find('inf'), 'no nan or inf: ' .. s) end
  local buf3, write3 = capture()
  local r = progress.new{ label = 'open-ended', write = write3, tty = false, every = 0, quiet = false }
  r:advance(); r:advance(2); r:finish()
  t:ok(buf3[#buf3]:find('3 it', 1, true), 'count without a total: ' .. buf3[#buf3])
  t:eq(p:finish(), p:finish(), 'finish twice is harmless')
end)

T:add('progress: plain lines for logs, in-place redraw on a terminal', function(t)
  local buf, write = capture()
  local p = progress.new{ total = 4, label = 'log', every = 0, tty = false, write = write, quiet = false }
  for i = 1, 4 do p:update(i) end
  p:finish('ok')
  t:eq(#buf, 5, 'every = 0 prints each update and a final line')
  for _, s in ipairs(buf) do t:ok(s:sub(-1) == '\n' and not s:find('\r', 1, true), 'plain line') end
  t:ok(buf[2]:find('[############------------]', 1, true), 'half-full bar: ' .. buf[2])
  t:ok(buf[5]:find('ok', 1, true), 'final text')
  local buf2, write2 = capture()
  local slow = progress.new{ total = 1000, label = 'log', tty = false, write = write2, quiet = false }
  for i = 1, 1000 do slow:update(i) end
  slow:finish()
  t:eq(#buf2, 1, 'default: no line within 5 s, then the final one')
  local buf3, write3 = capture()
  local t0 = dode.clock()
  local tty = progress.new{ total = 1e6, label = 'tty', tty = true, write = write3, quiet = false }
  for _ = 1, 2000 do tty:advance() end
  spin(0.12)
  tty:update(3000, 'late')
  tty:finish()
  -- First update at once, then at most one redraw per 0.1 s, then the final line.
  local most = 2 + math.floor((dode.clock() - t0) / 0.1)
  t:ok(#buf3 >= 3 and #buf3 <= most, string.format('%d writes (3 to %d expected)', #buf3, most))
  for _, s in ipairs(buf3) do t:eq(s:sub(1, 1), '\r', 'redraws start with \\r') end
  t:eq(buf3[#buf3]:sub(-1), '\n', 'final line ends the display')
  t:ok(buf3[#buf3 - 1]:find('ETA', 1, true), 'ETA while running: ' .. buf3[#buf3 - 1])
  t:ok(buf3[#buf3 - 1]:find('it/s', 1, true), 'rate while running')
  t:raises(function() tty:update('x') end, { 'dode.progress.update', 'finite number' })
  t:raises(function() progress.new{ total = -1 } end, { 'dode.progress.new', 'total must be a number >= 0' })
  t:raises(function() progress.new{ totl = 1 } end,
    { "unknown option 'totl' (options are total, label, quiet, every, unit, tty, write)" })
  -- Values are described as in dode.plot and dode.table (one dode.util.describe): tensors by
  -- shape, long strings cut.
  t:raises(function() progress.new{ total = dode.ones(2) } end,
    { 'dode.progress.new', 'total must be a number >= 0 (got a tensor of shape 2)' })
  t:raises(function() progress.new{ every = string.rep('x', 50) } end,
    { "(got a string ('" .. string.rep('x', 37) .. "...'))" })
  t:eq(progress.duration(3725), '1:02:05', 'hours'); t:eq(progress.duration(65), '1:05', 'minutes')
  t:eq(progress.duration(2.5), '2.5s', 'seconds')
end)

T:add('progress: DODE_QUIET=1 silences a child dode', function(t)
  local exe = arg and arg[-1]
  if not exe or not io.popen then t:ok(true, 'no interpreter path; skipped') return end
  local env = ''
  local stdlib = os.getenv('DODE_STDLIB')
  if stdlib then env = 'DODE_STDLIB=' .. shell_quote(stdlib) .. ' ' end
  local code = "local p = require('dode.progress').new{total = 2, label = 'child', every = 0}; p:update(1); p:finish()"
  local function run(extra)
    local f = io.popen(env .. extra .. shell_quote(exe) .. ' -e ' .. shell_quote(code) .. ' 2>&1')
    local out = f:read('a')
    f:close()
    return out
  end
  local loud = run('DODE_QUIET=0 ')
  t:ok(loud:find('child', 1, true), 'prints when not quiet: ' .. loud)
  t:eq(run('DODE_QUIET=1 '), '', 'nothing with DODE_QUIET=1')
end)

T:add('cleanup of the temporary folder', function(t)
  for _, p in ipairs(created) do os.remove(p) end
  t:ok(os.remove(tmpdir), 'the folder is empty and removed')
end)

T:run()
