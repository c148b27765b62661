--- dode.display: rich output — inline in a notebook, a short text in a terminal.
--
--   dode.display(obj)                        -- show obj now (a notebook cell shows it inline)
--   local img = dode.image.grid(x)           -- an image object: PNG bytes, width, height
--   local chart = plot.line{ ... }           -- a chart object: its SVG text and size
--   dode.display(dode.display.html('<b>bold</b>'))
--   local id = dode.display(obj, { id = 'status' }); dode.display.update(id, other)
--
-- The protocol: a value whose metatable has `__display(self)` returning a MIME bundle
-- {['text/plain'] = text, ['image/png'] = bytes, ['image/svg+xml'] = text, ['text/html'] = text}
-- displays richly; images, charts and dode.table tables have one. A notebook shows a cell's
-- last expression the same way. Every bundle gets a text/plain entry (tostring of the value
-- when __display gives none): that is what a terminal prints, and what the REPL prints for a
-- display object (`[dode.Image 265x67 PNG, 2.1 kB]`).
local dode = require 'dode'
local help = require 'dode.help'
local util = require 'dode.util'

local M = {}
local fmt = string.format
local describe = util.describe

--- Raises msg at the caller `level` frames up (1: the caller of the function calling raise),
-- skipping frames without a line (a C function such as pcall, or a caller whose frame a tail
-- call replaced), so the message carries the nearest file:line in the user's code.
local function raise(msg, level)
  level = level + 2
  local info = debug.getinfo(level, 'l')
  while info and info.currentline < 0 do
    level = level + 1
    info = debug.getinfo(level, 'l')
  end
  error(msg, info and level or 0)
end

local function bytes(n)
  if n < 1000 then return n .. ' bytes' end
  if n < 1e6 then return fmt('%.1f kB', n / 1e3) end
  return fmt('%.1f MB', n / 1e6)
end

--- The __display method of v, if it has one.
local function display_method(v)
  local mt = getmetatable(v)
  if type(mt) ~= 'table' then return nil end
  local f = rawget(mt, '__display')
  if f == nil then
    local ok, g = pcall(function() return mt.__display end)   -- inherited through a class chain
    if ok then f = g end
  end
  return type(f) == 'function' and f or nil
end

--- True when v displays richly (its metatable has __display).
function M.rich(v) return display_method(v) ~= nil end

--- The MIME bundle of any value: its __display bundle (copied) with text/plain added.
function M.bundle(v)
  local out = {}
  local f = display_method(v)
  if f then
    local b = f(v)
    if type(b) ~= 'table' then
      error(fmt('dode.display: the __display method of %s must return a MIME bundle table (got %s)',
        describe(v), describe(b)), 0)
    end
    for k, x in pairs(b) do out[k] = x end
  end
  if out['text/plain'] == nil then out['text/plain'] = tostring(v) end
  return out
end

local OPTIONS = util.set { 'id' }

--- The id in the options of dode.display or dode.display<name>, checked (nil without options).
local function check_opts(name, opts)
  if opts == nil then return nil end
  if type(opts) ~= 'table' then
    raise(fmt('dode.display%s: the options must be a table {id = name} (got %s)', name, describe(opts)), 2)
  end
  local k = util.unknown_key(opts, OPTIONS)
  if k ~= nil then raise(fmt("dode.display%s: unknown option '%s' (the option is id)", name, tostring(k)), 2) end
  local id = opts.id
  if id ~= nil and (type(id) ~= 'string' or id == '') then
    raise(fmt("dode.display%s: option 'id' must be a non-empty string (got %s)", name, describe(id)), 2)
  end
  return id
end

--- dode.display(obj [, {id = name}]): shows obj now. Returns the id when one is given.
local function show(_, ...)
  if select('#', ...) == 0 then raise('dode.display: argument 1 must be the value to show (got nothing)', 1) end
  local obj, opts = ...
  local id = check_opts('', opts)
  local b = M.bundle(obj)
  if not dode._display_send(b, id, false) then print(b['text/plain']) end
  if id ~= nil then return id end   -- no value otherwise: the REPL then prints nothing more
end

--- Replaces the display shown with `id` by obj (in a terminal, prints obj's text).
function M.update(id, obj)
  if type(id) ~= 'string' or id == '' then
    raise(fmt('dode.display.update: argument 1 must be a display id (a string given as {id =} to dode.display) '
      .. '(got %s)', describe(id)), 1)
  end
  local b = M.bundle(obj)
  if not dode._display_send(b, id, true) then print(b['text/plain']) end
end

--- True inside a notebook (rich output goes to the cell), false in a terminal.
function M.active() return dode._display_active() end

---------------------------------------------------------------------------------------------
-- Images (dode.image.grid creates them in Swift with this metatable).

local Image = {}
Image.__index = Image
Image.__name = 'dode.Image'

function Image.__tostring(self)
  return fmt('[dode.Image %dx%d PNG, %s%s]', self.width, self.height, bytes(#self.png),
    self.path and ', ' .. self.path or '')
end

function Image.__display(self)
  return { ['image/png'] = self.png, ['text/plain'] = tostring(self) }
end

Image.save = dode.image.save
dode._display_register('Image', Image)

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

--- An image object from PNG bytes (shown inline in a notebook).
function M.png(data)
  if type(data) ~= 'string' or data:sub(1, 8) ~= '\137PNG\r\n\26\n' or #data < 33 or data:sub(13, 16) ~= 'IHDR' then
    local got = type(data) == 'string' and #data .. ' bytes that are not a PNG' or describe(data)
    raise(fmt('dode.display.png: argument 1 must be the bytes of a PNG file (got %s)', got), 1)
  end
  local ct = data:byte(26)
  return setmetatable({ png = data, width = be32(data, 17), height = be32(data, 21), channels = ct == 0 and 1 or 3 },
    Image)
end

---------------------------------------------------------------------------------------------
-- Charts (dode.plot returns them).

local Chart = {}
Chart.__index = Chart
Chart.__name = 'dode.Chart'

--- Wraps the SVG of a chart: {kind =, svg =, width =, height =, path =, title =, series =,
-- skipped =, skipped_per_series =}.
function M.chart(t)
  if type(t) ~= 'table' or type(t.svg) ~= 'string' then
    raise(fmt('dode.display.chart: expected {svg = text, kind =, width =, height =, ...} (got %s)', describe(t)), 1)
  end
  return setmetatable(t, Chart)
end

function Chart.__tostring(self)
  local parts = { (self.kind or 'chart') .. ' ' .. fmt('%dx%d', self.width or 0, self.height or 0) }
  if self.series then parts[#parts + 1] = self.series .. ' series' end
  if self.skipped and self.skipped > 0 then parts[#parts + 1] = self.skipped .. ' points skipped' end
  if self.path then parts[#parts + 1] = self.path end
  return '[dode.Chart ' .. table.concat(parts, ', ') .. ']'
end

function Chart.__display(self)
  return { ['image/svg+xml'] = self.svg, ['text/plain'] = tostring(self) }
end

--- chart:save(path): writes the SVG atomically. Returns path.
function Chart:save(path)
  if getmetatable(self) ~= Chart then raise('dode.Chart:save: call it as a method, chart:save(path)', 1) end
  if type(path) ~= 'string' or path == '' then
    raise(fmt('dode.Chart:save: argument 1 must be a file path such as "plot.svg" (got %s)', describe(path)), 1)
  end
  local ok, err = util.write_file(path, self.svg)
  if not ok then raise('dode.Chart:save: ' .. err, 1) end
  return path
end

---------------------------------------------------------------------------------------------
-- Raw MIME content.

local Raw = {}
Raw.__index = Raw
Raw.__name = 'dode.display.raw'
Raw.__tostring = function(self) return self.text end
Raw.__display = function(self) return self.bundle end

-- (Called, never tail-called, by the constructors below: raise counts their frame.)
local function raw(name, mime, content, text)
  if type(content) ~= 'string' then
    raise(fmt('dode.display.%s: argument 1 must be a string (got %s)', name, describe(content)), 2)
  end
  if not utf8.len(content) then raise(fmt('dode.display.%s: argument 1 is not valid UTF-8 text', name), 2) end
  return setmetatable({ bundle = { [mime] = content, ['text/plain'] = text or content }, text = text or content }, Raw)
end

--- An object that displays as HTML (its text in a terminal).
function M.html(text)
  local o = raw('html', 'text/html', text)
  return o
end
--- An object that displays as Markdown.
function M.markdown(text)
  local o = raw('markdown', 'text/markdown', text)
  return o
end
--- An object that displays as an SVG image.
function M.svg(text)
  local o = raw('svg', 'image/svg+xml', text, type(text) == 'string' and fmt('[SVG image, %s]', bytes(#text)) or nil)
  return o
end

---------------------------------------------------------------------------------------------
-- Hooks of the notebook kernel (dode --kernel-server) and of dode.progress.

local live_count = 0

--- A writer for progress lines that keeps one display updated in place, or nil outside a
-- notebook. Each call gets the whole line (a leading \r and trailing blanks are dropped).
function M._live_writer()
  if not dode._display_active() then return nil end
  live_count = live_count + 1
  local id = fmt('dode-live-%d-%d-%d', os.time(), math.floor(dode.clock() * 1e3) % 1000000, live_count)
  local shown = false
  return function(text)
    local line = tostring(text):gsub('^\r', ''):gsub('%s+$', '')
    dode._display_send({ ['text/plain'] = line }, id, shown)
    shown = true
  end
end

--- The bundle a cell's values show as: the first value alone when it displays richly, else
-- every value's text, tab-separated as print writes them. Nil when there is no value.
function M._result(...)
  local n = select('#', ...)
  if n == 0 then return nil end
  local first = ...
  if n == 1 or display_method(first) then return M.bundle(first) end
  local parts = {}
  for i = 1, n do parts[i] = tostring((select(i, ...))) end
  return { ['text/plain'] = table.concat(parts, '\t') }
end

--- The text help(x) prints for the value named by `name` (a dotted path such as dode.randn or
-- x:norm), or the value's own text when help has none; nil when the name is not a value.
function M._inspect(name)
  if type(name) ~= 'string' or not name:match('^[%a_][%w_.:]*$') or name:find('[.:][.:]') or name:find('[.:]%d') then
    return nil
  end
  local f = load('return ' .. (name:gsub(':', '.')), '=inspect', 't')
  if not f then return nil end
  local ok, v = pcall(f)
  if not ok or v == nil then return nil end
  local out = {}
  local saved = print
  print = function(...)
    local t = table.pack(...)
    for i = 1, t.n do t[i] = tostring(t[i]) end
    out[#out + 1] = table.concat(t, '\t', 1, t.n)
  end
  local hok = pcall(_G.help or function() end, v)
  print = saved
  local text = table.concat(out, '\n')
  if not hok or text == '' or text:match('^no help for') then
    return type(v) .. ': ' .. tostring(v)
  end
  return text
end

setmetatable(M, { __call = show })

help.register(M, 'dode.display', 'dode.display(obj [, {id = name}])',
  'Shows obj now: inline in a notebook (images, charts, dode.table tables, HTML), its text in a terminal. '
  .. 'Any value whose metatable has __display(self) returning a MIME bundle '
  .. '{["text/plain"] =, ["image/png"] =, ["image/svg+xml"] =, ["text/html"] =} '
  .. 'displays richly; a notebook shows the last expression of a cell the same way. '
  .. 'Returns the id when one is given (to update the display later).')
help.register(M.update, 'dode.display.update', 'dode.display.update(id, obj)',
  'Replaces the display shown with {id = id} by obj (in a terminal, prints its text).')
help.register(M.active, 'dode.display.active', 'dode.display.active()', 'True inside a notebook, false in a terminal.')
help.register(M.bundle, 'dode.display.bundle', 'dode.display.bundle(obj)',
  'The MIME bundle obj displays as: its __display bundle with a text/plain entry '
  .. '(tostring(obj) when __display gives none).')
help.register(M.rich, 'dode.display.rich', 'dode.display.rich(obj)', 'True when obj has a __display method.')
help.register(M.html, 'dode.display.html', 'dode.display.html(text)',
  'An object that displays as HTML in a notebook (the text itself in a terminal).')
help.register(M.markdown, 'dode.display.markdown', 'dode.display.markdown(text)',
  'An object that displays as Markdown in a notebook.')
help.register(M.svg, 'dode.display.svg', 'dode.display.svg(text)',
  'An object that displays an SVG image in a notebook.')
help.register(M.png, 'dode.display.png', 'dode.display.png(bytes)',
  'An image object from the bytes of a PNG file (io.open(path, "rb"):read("a")), shown inline in a notebook.')
help.register(M.chart, 'dode.display.chart',
  'dode.display.chart{svg =, kind =, width =, height =, path =, title =, series =, skipped =, skipped_per_series =}',
  'Wraps SVG text as a chart object (dode.plot returns these): chart.svg, chart:save(path); '
  .. 'shown inline in a notebook.')
help.register(Chart.save, 'dode.display.Chart:save', 'chart:save(path)',
  'Writes the chart SVG to path atomically. Returns path.')

return M
