--- dode.table: result tables printed aligned on the console and saved as CSV or JSON.
--
--   local tb = require('dode.table').new{
--     columns = { 'solver', 'nfe', 'rmse_base', 'rmse_d' },
--     formats = { rmse_base = '%.3e', rmse_d = '%.3e' },
--   }
--   tb:add{ solver = 'ddim', nfe = 5, rmse_base = 0.12, rmse_d = 0.031 }
--   tb:add{ 'dpm++', 5, 0.05, 0.02 }              -- positional, in column order
--   tb:sort('rmse_d')
--   print(tb)                                       -- same as print(tb:render())
--   tb:save_csv('out/results.csv'); tb:save_json('out/results.json')
--
-- Cells hold numbers, strings, booleans or nothing (nil). `formats` apply to the console text
-- only (a string.format pattern for numbers, or a function of the value); CSV and JSON keep
-- full precision. Files are written atomically.
local dode = require 'dode'
local help = require 'dode.help'
local util = require 'dode.util'

local M = {}

local fmt, concat = string.format, table.concat
local describe, finite, width = util.describe, util.finite, util.chars

local Table = {}
Table.__index = Table
M.Table = Table

local function is_table(x) return getmetatable(x) == Table end

local function self_check(self, name)
  if not is_table(self) then
    error(fmt('dode.table.%s: call it as a method, tb:%s(...) (got %s as self)', name, name, describe(self)), 3)
  end
end

local function integral(v)
  return math.type(v) == 'integer' or (finite(v) and v == math.floor(v) and math.abs(v) < 2 ^ 53)
end

--- Text of a number that reads back as the same number (shortest of %.15g .. %.17g).
local function exact(v)
  if math.type(v) == 'integer' then return tostring(v) end
  if v ~= v then return 'nan' end
  if v == math.huge then return 'inf' end
  if v == -math.huge then return '-inf' end
  if integral(v) then return fmt('%.0f', v) end
  for p = 15, 17 do
    local s = fmt('%.' .. p .. 'g', v)
    if tonumber(s) == v then return s end
  end
  return fmt('%.17g', v)
end

local function default_number(v)
  if v ~= v then return 'nan' end
  if v == math.huge then return 'inf' end
  if v == -math.huge then return '-inf' end
  if integral(v) then return fmt('%.0f', v) end
  return fmt('%.4g', v)
end

--- Fails (naming dode.table.<fname> and the method's caller) when the table has no column `name`.
local function known_column(self, name, fname)
  if not self._index[name] then
    error(fmt("dode.table.%s: unknown column '%s' (columns are %s)", fname, tostring(name),
      concat(self._columns, ', ')), 3)
  end
end

--- Normalises one cell: numbers, strings, booleans and nil stay; a one-element tensor
-- becomes its number; anything else is an error.
local function cell(v, col, fname)
  local t = type(v)
  if v == nil or t == 'number' or t == 'string' or t == 'boolean' then return v end
  if dode.is_tensor(v) and v:numel() == 1 then return v:reshape(1)[1] end
  error(fmt("dode.table.%s: column '%s' takes a number, string or boolean (got %s)", fname, col, describe(v)), 3)
end

---------------------------------------------------------------------------------------------
-- Construction.

local NEW_OPTIONS = util.set { 'columns', 'formats' }

--- Creates an empty table with the given column order and optional per-column formats.
function M.new(spec)
  if type(spec) ~= 'table' then
    error(fmt('dode.table.new: expected {columns = {...}, formats = {...}} (got %s)', describe(spec)), 2)
  end
  local k = util.unknown_key(spec, NEW_OPTIONS)
  if k ~= nil then error(fmt("dode.table.new: unknown option '%s' (options are columns, formats)", tostring(k)), 2) end
  local cols = spec.columns
  if type(cols) ~= 'table' or #cols == 0 then
    error(fmt('dode.table.new: columns must be a non-empty list of names (got %s)',
      type(cols) == 'table' and 'an empty table' or describe(cols)), 2)
  end
  local index = {}
  for i, c in ipairs(cols) do
    if type(c) ~= 'string' or c == '' then
      error(fmt('dode.table.new: columns[%d] must be a non-empty string (got %s)', i, describe(c)), 2)
    end
    if index[c] then error(fmt("dode.table.new: column '%s' appears twice", c), 2) end
    index[c] = i
  end
  local formats = {}
  for k, f in pairs(spec.formats or {}) do
    if not index[k] then
      error(fmt("dode.table.new: formats names the column '%s', which is not in columns (%s)",
        tostring(k), concat(cols, ', ')), 2)
    end
    if type(f) == 'string' then
      local ok, err = pcall(fmt, f, 1.5)
      if not ok or not f:find('%%') then
        error(fmt("dode.table.new: formats.%s must be a string.format pattern for a number such as '%%.3e' "
          .. "(got '%s'%s)", k, f, ok and '' or ': ' .. tostring(err)), 2)
      end
    elseif type(f) ~= 'function' then
      error(fmt('dode.table.new: formats.%s must be a format string or a function (got %s)', k, describe(f)), 2)
    end
    formats[k] = f
  end
  if spec.formats ~= nil and type(spec.formats) ~= 'table' then
    error(fmt('dode.table.new: formats must be a table {column = pattern} (got %s)', describe(spec.formats)), 2)
  end
  local columns = {}
  for i, c in ipairs(cols) do columns[i] = c end
  return setmetatable({ _columns = columns, _index = index, _formats = formats, _rows = {} }, Table)
end

---------------------------------------------------------------------------------------------
-- Rows.

--- Adds a row, by name ({solver = 'ddim', nfe = 5}) or by position ({'ddim', 5}). Missing
-- cells are empty. Returns the table (calls chain).
function Table:add(row)
  self_check(self, 'add')
  if type(row) ~= 'table' or dode.is_tensor(row) then
    error(fmt('dode.table.add: expected a row table {column = value} or {v1, v2, ...} (got %s)', describe(row)), 2)
  end
  local cols, index = self._columns, self._index
  local r = {}
  local n = 0
  for k in pairs(row) do
    if math.type(k) == 'integer' then
      if k < 1 or k > #cols then
        error(fmt('dode.table.add: the row has a value at position %d but the table has %d columns (%s)',
          k, #cols, concat(cols, ', ')), 2)
      end
      n = n + 1
    elseif not index[k] then
      error(fmt("dode.table.add: unknown column '%s' (columns are %s)", tostring(k), concat(cols, ', ')), 2)
    end
  end
  for i, c in ipairs(cols) do
    local byname, bypos = row[c], row[i]
    if byname ~= nil and bypos ~= nil then
      error(fmt("dode.table.add: column '%s' is given both by name and at position %d", c, i), 2)
    end
    if byname ~= nil then r[c] = cell(byname, c, 'add') else r[c] = cell(bypos, c, 'add') end
  end
  self._rows[#self._rows + 1] = r
  return self
end

--- The rows as a list of tables {column = value} (copies: changing them leaves the table alone).
function Table:rows()
  self_check(self, 'rows')
  local out = {}
  for i, r in ipairs(self._rows) do
    local c = {}
    for k, v in pairs(r) do c[k] = v end
    out[i] = c
  end
  return out
end

--- The column names in order (a copy).
function Table:columns()
  self_check(self, 'columns')
  local out = {}
  for i, c in ipairs(self._columns) do out[i] = c end
  return out
end

--- The values of one column, in row order, and the number of rows (empty cells are nil holes).
function Table:column(name)
  self_check(self, 'column')
  known_column(self, name, 'column')
  local out = {}
  for i, r in ipairs(self._rows) do out[i] = r[name] end
  return out, #self._rows
end

local TYPE_RANK = { number = 1, string = 2, boolean = 3 }

--- Sorts the rows by a column (stable; descending when `desc`). Empty cells go last, NaN after
-- the other numbers; mixed types order numbers, then strings, then booleans. Returns the table.
function Table:sort(name, desc)
  self_check(self, 'sort')
  known_column(self, name, 'sort')
  if desc ~= nil and type(desc) ~= 'boolean' then
    error(fmt('dode.table.sort: desc must be true or false (got %s)', describe(desc)), 2)
  end
  local keyed = {}
  for i, r in ipairs(self._rows) do keyed[i] = { r = r, i = i, v = r[name] } end
  local function before(a, b)  -- strict order on values, ignoring direction and ties
    local ta, tb = TYPE_RANK[type(a)], TYPE_RANK[type(b)]
    if ta ~= tb then return ta < tb end
    if type(a) == 'boolean' then return (not a) and b end
    if type(a) == 'number' then
      if a ~= a or b ~= b then return b ~= b and a == a end
    end
    return a < b
  end
  table.sort(keyed, function(p, q)
    local a, b = p.v, q.v
    if a == nil or b == nil then
      if (a == nil) ~= (b == nil) then return b == nil end
      return p.i < q.i
    end
    local nan_a, nan_b = a ~= a, b ~= b
    if nan_a or nan_b then
      if nan_a ~= nan_b then return nan_b end
      return p.i < q.i
    end
    if desc then
      if before(b, a) then return true end
      if before(a, b) then return false end
    else
      if before(a, b) then return true end
      if before(b, a) then return false end
    end
    return p.i < q.i
  end)
  for i, k in ipairs(keyed) do self._rows[i] = k.r end
  return self
end

---------------------------------------------------------------------------------------------
-- Console text.

local function display(self, col, v)
  if v == nil then return '' end
  local f = self._formats[col]
  if type(f) == 'function' then
    local ok, s = pcall(f, v)
    if not ok then
      error(fmt("dode.table.render: the format function of column '%s' failed: %s", col, tostring(s)), 0)
    end
    return tostring(s)
  end
  if type(v) == 'number' then
    if f then
      if not finite(v) then return default_number(v) end
      local ok, s = pcall(fmt, f, v)
      if not ok then
        error(fmt("dode.table.render: formats.%s ('%s') cannot format %s: %s", col, f, tostring(v), s), 0)
      end
      return s
    end
    return default_number(v)
  end
  return (tostring(v):gsub('[\r\n\t]', ' '))
end

--- The table as aligned text: a header, a rule and one line per row; numbers right-aligned,
-- text left-aligned, columns two spaces apart. Every line has the same width.
function Table:render()
  self_check(self, 'render')
  local cols = self._columns
  local cells, widths, numeric = {}, {}, {}
  for j, c in ipairs(cols) do
    widths[j] = width(c)
    local any, all = false, true
    for _, r in ipairs(self._rows) do
      local v = r[c]
      if v ~= nil then
        any = true
        if type(v) ~= 'number' then all = false end
      end
    end
    numeric[j] = any and all
  end
  for i, r in ipairs(self._rows) do
    local line = {}
    for j, c in ipairs(cols) do
      local s = display(self, c, r[c])
      line[j] = { s = s, right = type(r[c]) == 'number' }
      widths[j] = math.max(widths[j], width(s))
    end
    cells[i] = line
  end
  local function pad(s, w, right)
    local gap = string.rep(' ', w - width(s))
    return right and gap .. s or s .. gap
  end
  local out = {}
  local header, rule = {}, {}
  for j, c in ipairs(cols) do
    header[j] = pad(c, widths[j], numeric[j])
    rule[j] = string.rep('-', widths[j])
  end
  out[1] = concat(header, '  ')
  out[2] = concat(rule, '  ')
  for _, line in ipairs(cells) do
    local parts = {}
    for j, c in ipairs(line) do parts[j] = pad(c.s, widths[j], c.right) end
    out[#out + 1] = concat(parts, '  ')
  end
  return concat(out, '\n')
end

Table.__tostring = function(self) return self:render() end
Table.__len = function(self) return #self._rows end

local HTML_ESC = { ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;' }
local function html_text(s) return (tostring(s):gsub('[&<>"]', HTML_ESC)) end

--- The table as an HTML <table> (the console formats; numbers right-aligned), as a notebook
-- shows it.
function Table:html()
  self_check(self, 'html')
  local out = { '<table class="dode-table">', '<thead><tr>' }
  for _, c in ipairs(self._columns) do out[#out + 1] = '<th>' .. html_text(c) .. '</th>' end
  out[#out + 1] = '</tr></thead>\n<tbody>\n'
  for _, r in ipairs(self._rows) do
    out[#out + 1] = '<tr>'
    for _, c in ipairs(self._columns) do
      local v = r[c]
      local s = html_text(display(self, c, v))
      out[#out + 1] = '<td style="text-align:' .. (type(v) == 'number' and 'right' or 'left') .. '">' .. s .. '</td>'
    end
    out[#out + 1] = '</tr>\n'
  end
  out[#out + 1] = '</tbody></table>'
  return concat(out)
end

--- What dode.display and a notebook show: the HTML table, and the console text.
Table.__display = function(self) return { ['text/html'] = self:html(), ['text/plain'] = self:render() } end

---------------------------------------------------------------------------------------------
-- Files.

-- Files are written atomically (util.write_file: temporary file, fsync, rename).
local function write_atomic(fname, path, text)
  if type(path) ~= 'string' or path == '' then
    error(fmt('dode.table.%s: path must be a file name (got %s)', fname, describe(path)), 3)
  end
  local ok, err = util.write_file(path, text)
  if not ok then error(fmt('dode.table.%s: %s', fname, err), 3) end
  return path
end

local function csv_field(v)
  local s
  if v == nil then return '' end
  if type(v) == 'number' then s = exact(v) else s = tostring(v) end
  if s:find('[,"\r\n]') or s:match('^%s') or s:match('%s$') then
    s = '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

--- Writes the table as CSV (RFC 4180: a header line, CRLF line ends, fields with commas,
-- quotes or line breaks quoted, quotes doubled). Numbers keep full precision. Returns path.
function Table:save_csv(path)
  self_check(self, 'save_csv')
  local lines = {}
  local header = {}
  for j, c in ipairs(self._columns) do header[j] = csv_field(c) end
  lines[1] = concat(header, ',')
  for _, r in ipairs(self._rows) do
    local f = {}
    for j, c in ipairs(self._columns) do f[j] = csv_field(r[c]) end
    lines[#lines + 1] = concat(f, ',')
  end
  return write_atomic('save_csv', path, concat(lines, '\r\n') .. '\r\n')
end

local JSON_ESC = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t',
}

local function json_string(s)
  s = s:gsub('[%c"\\]', function(c) return JSON_ESC[c] or fmt('\\u%04x', c:byte()) end)
  return '"' .. s .. '"'
end

local function json_value(v)
  if v == nil then return 'null' end
  local t = type(v)
  if t == 'number' then
    if not finite(v) then return 'null' end
    return exact(v)
  elseif t == 'boolean' then
    return tostring(v)
  end
  return json_string(tostring(v))
end

--- Writes {"columns": [...], "rows": [{column: value, ...}, ...]} with the keys of each row in
-- column order; empty cells, NaN and inf become null. Returns path.
function Table:save_json(path)
  self_check(self, 'save_json')
  local cols = {}
  for j, c in ipairs(self._columns) do cols[j] = json_string(c) end
  local rows = {}
  for i, r in ipairs(self._rows) do
    local parts = {}
    for j, c in ipairs(self._columns) do parts[j] = json_string(c) .. ': ' .. json_value(r[c]) end
    rows[i] = '    {' .. concat(parts, ', ') .. '}'
  end
  local text = '{\n  "columns": [' .. concat(cols, ', ') .. '],\n  "rows": ['
    .. (#rows > 0 and '\n' .. concat(rows, ',\n') .. '\n  ' or '') .. ']\n}\n'
  return write_atomic('save_json', path, text)
end

--- Reads a CSV file written by save_csv (or any RFC 4180 file with a header line) into a new
-- table. Fields that read as numbers become numbers, true/false become booleans, empty fields nil.
function M.load_csv(path)
  if type(path) ~= 'string' then
    error(fmt('dode.table.load_csv: path must be a file name (got %s)', describe(path)), 2)
  end
  local f, err = io.open(path, 'rb')
  if not f then error(fmt("dode.table.load_csv: cannot read '%s': %s", path, tostring(err)), 2) end
  local text = f:read('a')
  f:close()
  local records, record, field = {}, {}, {}
  local i, n = 1, #text
  local quoted_field = false
  local function end_field()
    record[#record + 1] = { s = concat(field), quoted = quoted_field }
    field, quoted_field = {}, false
  end
  local function end_record()
    end_field()
    records[#records + 1] = record
    record = {}
  end
  while i <= n do
    local c = text:sub(i, i)
    if c == '"' and #field == 0 and not quoted_field then
      quoted_field = true
      local j = i + 1
      while true do
        local q = text:find('"', j, true)
        if not q then error(fmt("dode.table.load_csv: '%s': a quoted field is not closed", path), 2) end
        field[#field + 1] = text:sub(j, q - 1)
        if text:sub(q + 1, q + 1) == '"' then
          field[#field + 1] = '"'
          j = q + 2
        else
          i = q + 1
          break
        end
      end
    elseif c == ',' then
      end_field(); i = i + 1
    elseif c == '\r' or c == '\n' then
      end_record()
      i = i + ((c == '\r' and text:sub(i + 1, i + 1) == '\n') and 2 or 1)
    else
      field[#field + 1] = c; i = i + 1
    end
  end
  if #field > 0 or #record > 0 or quoted_field then end_record() end
  if #records == 0 then error(fmt("dode.table.load_csv: '%s' is empty (expected a header line)", path), 2) end
  local cols = {}
  for j, h in ipairs(records[1]) do cols[j] = h.s end
  local ok, tb = pcall(M.new, { columns = cols })
  if not ok then error(fmt("dode.table.load_csv: '%s': bad header: %s", path, tostring(tb)), 2) end
  for r = 2, #records do
    local rec = records[r]
    if #rec ~= #cols then
      error(fmt("dode.table.load_csv: '%s' line %d has %d fields but the header has %d", path, r, #rec, #cols), 2)
    end
    local row = {}
    for j, fld in ipairs(rec) do
      local s, v = fld.s, nil
      if fld.quoted then
        v = s
      elseif s == '' then
        v = nil
      elseif s == 'true' or s == 'false' then
        v = s == 'true'
      elseif s == 'nan' then
        v = 0 / 0
      elseif s == 'inf' or s == '-inf' then
        v = s == 'inf' and math.huge or -math.huge
      else
        v = tonumber(s)
        if v == nil or s:match('^%s') or s:match('%s$') or s:match('^0[xX]') then v = s end
      end
      row[cols[j]] = v
    end
    tb:add(row)
  end
  return tb
end

---------------------------------------------------------------------------------------------
-- Help.

help.register(M, 'dode.table', 'dode.table',
  "Result tables: require('dode.table').new{columns = {...}, formats = {...}}, then tb:add{...}, print(tb), "
  .. 'tb:save_csv(path), tb:save_json(path).')
help.register(M.new, 'dode.table.new',
  'dode.table.new{columns = {name, ...}, formats = {column = pattern | function(v)}}',
  "A new empty table with this column order. `formats` change the console text only (e.g. '%.3e'); "
  .. 'defaults show integers whole and other numbers with 4 significant digits.')
help.register(M.load_csv, 'dode.table.load_csv', 'dode.table.load_csv(path)',
  'Reads a CSV file with a header line into a new table (numbers, true/false and empty fields are converted; '
  .. 'quoted fields stay text).')
help.register(Table.add, 'dode.table.Table:add', 'tb:add{column = value, ...} or tb:add{v1, v2, ...}',
  'Appends a row by column name or in column order; missing cells are empty. '
  .. 'Values: numbers, strings, booleans, one-element tensors. Returns tb.')
help.register(Table.rows, 'dode.table.Table:rows', 'tb:rows()',
  'The rows as a list of {column = value} tables (copies).')
help.register(Table.columns, 'dode.table.Table:columns', 'tb:columns()', 'The column names in order.')
help.register(Table.column, 'dode.table.Table:column', 'tb:column(name)',
  'The values of one column in row order (empty cells are nil), and the row count.')
help.register(Table.sort, 'dode.table.Table:sort', 'tb:sort(column [, desc = false])',
  'Sorts rows by a column, stable; empty cells last. Returns tb.')
help.register(Table.render, 'dode.table.Table:render', 'tb:render()',
  'Aligned console text: header, rule, rows; numbers right-aligned, text left-aligned. print(tb) prints the same.')
help.register(Table.html, 'dode.table.Table:html', 'tb:html()',
  'The table as an HTML <table> with the console formats (a notebook shows a table this way).')
help.register(Table.save_csv, 'dode.table.Table:save_csv', 'tb:save_csv(path)',
  'Writes RFC 4180 CSV atomically (full-precision numbers). Returns path.')
help.register(Table.save_json, 'dode.table.Table:save_json', 'tb:save_json(path)',
  'Writes {"columns": [...], "rows": [{...}, ...]} atomically; read back with dode.load(path). '
  .. 'Empty cells, NaN and inf become null. Returns path.')

return M
