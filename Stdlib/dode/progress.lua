--- dode.progress: progress bars on standard error for long loops.
--
--   local p = require('dode.progress').new{ total = #batches, label = 'teacher pass' }
--   for i, b in ipairs(batches) do
--     work(b)
--     p:update(i)            -- or p:advance() for one more item
--   end
--   p:finish()
--
-- A line shows the label, a bar, done/total, the percentage, the rate (items/s, or s/item when
-- slower than one a second) and the time left. On a terminal it redraws in place (`\r`) at most
-- every 0.1 s, and so it does in a notebook cell (one display updated in place); otherwise
-- (logs, pipes) it prints a plain line at most every `every` * 10 seconds (5 s by default) and a
-- final line. `quiet = true`, or the environment variable
-- DODE_QUIET set to anything but '' / 0 / false / no, prints nothing. Without `total` the line
-- shows the count and rate only.
local dode = require 'dode'
local help = require 'dode.help'
local display = require 'dode.display'
local util = require 'dode.util'

local M = {}

local fmt = string.format
local describe, finite = util.describe, util.finite

local Progress = {}
Progress.__index = Progress
M.Progress = Progress

local TTY_INTERVAL = 0.1
local BAR = 24

--- True when DODE_QUIET asks for silence.
function M.env_quiet()
  local q = os.getenv('DODE_QUIET')
  if q == nil then return false end
  q = q:lower()
  return not (q == '' or q == '0' or q == 'false' or q == 'no' or q == 'off')
end

--- Duration as 2.5s, 12s, 3:05 or 1:02:03.
function M.duration(s)
  if not finite(s) or s < 0 then return '?' end
  if s < 9.95 then return fmt('%.1fs', s) end
  s = math.floor(s + 0.5)
  if s < 60 then return s .. 's' end
  if s < 3600 then return fmt('%d:%02d', s // 60, s % 60) end
  return fmt('%d:%02d:%02d', s // 3600, (s % 3600) // 60, s % 60)
end

local function count(v)
  if math.type(v) == 'integer' or (finite(v) and v == math.floor(v) and math.abs(v) < 1e15) then
    return fmt('%.0f', v)
  end
  return fmt('%.4g', v)
end

local OPTIONS = { 'total', 'label', 'quiet', 'every', 'unit', 'tty', 'write' }
local NEW_OPTIONS = util.set(OPTIONS)

--- Creates a progress display; nothing is printed until the first update.
function M.new(spec)
  spec = spec == nil and {} or spec
  if type(spec) ~= 'table' then
    error(fmt('dode.progress.new: expected a table {total =, label =, quiet =, every =} (got %s)', describe(spec)), 2)
  end
  local k = util.unknown_key(spec, NEW_OPTIONS)
  if k ~= nil then
    error(fmt("dode.progress.new: unknown option '%s' (options are %s)", tostring(k), table.concat(OPTIONS, ', ')), 2)
  end
  local total = spec.total
  if total ~= nil and (not finite(total) or total < 0) then
    error(fmt('dode.progress.new: total must be a number >= 0 (got %s)', describe(total)), 2)
  end
  if spec.label ~= nil and type(spec.label) ~= 'string' and type(spec.label) ~= 'number' then
    error(fmt('dode.progress.new: label must be a string (got %s)', describe(spec.label)), 2)
  end
  local every = spec.every == nil and 0.5 or spec.every
  if not finite(every) or every < 0 then
    error(fmt('dode.progress.new: every must be a number of seconds >= 0 (got %s)', describe(spec.every)), 2)
  end
  for _, k in ipairs { 'quiet', 'tty' } do
    if spec[k] ~= nil and type(spec[k]) ~= 'boolean' then
      error(fmt('dode.progress.new: %s must be true or false (got %s)', k, describe(spec[k])), 2)
    end
  end
  if spec.unit ~= nil and type(spec.unit) ~= 'string' then
    error(fmt('dode.progress.new: unit must be a string (got %s)', describe(spec.unit)), 2)
  end
  if spec.write ~= nil and type(spec.write) ~= 'function' then
    error(fmt('dode.progress.new: write must be a function(text) (got %s)', describe(spec.write)), 2)
  end
  local quiet = spec.quiet
  if quiet == nil then quiet = M.env_quiet() end
  -- In a notebook the line redraws in place in the cell (one display updated), as on a terminal.
  local live = (spec.write == nil and spec.tty == nil and not quiet) and display._live_writer() or nil
  local tty = spec.tty
  if tty == nil then tty = live ~= nil or dode.isatty(2) end
  local now = dode.clock()
  return setmetatable({
    total = total,
    label = spec.label ~= nil and tostring(spec.label) or nil,
    unit = spec.unit or 'it',
    quiet = quiet,
    tty = tty,
    interval = tty and TTY_INTERVAL or every * 10,
    write = spec.write or live or dode.write_stderr,
    done = 0,
    extra = nil,
    t0 = now,
    last = tty and -math.huge or now,  -- time of the last line (a terminal shows the first update at once)
    drawn = false,     -- anything drawn yet (a terminal line to overwrite)
    prev_len = 0,
    finished = false,
  }, Progress)
end

--- The current line (without \r or newline).
function Progress:line(final)
  local elapsed = dode.clock() - self.t0
  local parts = {}
  if self.label then parts[#parts + 1] = self.label end
  local total, done = self.total, self.done
  if total then
    local frac = total > 0 and math.max(0, math.min(1, done / total)) or 1
    local fill = math.floor(frac * BAR + 0.5)
    parts[#parts + 1] = '[' .. string.rep('#', fill) .. string.rep('-', BAR - fill) .. ']'
    parts[#parts + 1] = count(done) .. '/' .. count(total)
    parts[#parts + 1] = fmt('%3d%%', math.floor(frac * 100 + 1e-9))
  else
    parts[#parts + 1] = count(done) .. ' ' .. self.unit
  end
  if elapsed >= 0.005 and done > 0 then
    local rate = done / elapsed
    if rate >= 1 then
      parts[#parts + 1] = fmt(rate >= 100 and '%.0f %s/s' or rate >= 10 and '%.1f %s/s' or '%.2f %s/s', rate, self.unit)
    else
      parts[#parts + 1] = fmt('%.1f s/%s', 1 / rate, self.unit)
    end
    if final then
      parts[#parts + 1] = 'in ' .. M.duration(elapsed)
    elseif total and total > done then
      parts[#parts + 1] = 'ETA ' .. M.duration((total - done) / rate)
    end
  elseif final then
    parts[#parts + 1] = 'in ' .. M.duration(math.max(elapsed, 0))
  end
  if self.extra and self.extra ~= '' then parts[#parts + 1] = self.extra end
  return (table.concat(parts, '  '):gsub('[\r\n]', ' '))
end

local function columns()
  local c = tonumber(os.getenv('COLUMNS') or '')
  if c and c >= 20 then return math.floor(c) end
  return 100
end

local function draw(self, final)
  local line = self:line(final)
  if self.tty then
    local maxw = columns() - 1
    local n = util.chars(line)
    if n > maxw then
      line = line:sub(1, (utf8.offset(line, maxw) or maxw + 1) - 1)
      n = maxw
    end
    local pad = self.prev_len > n and string.rep(' ', self.prev_len - n) or ''
    self.write('\r' .. line .. pad .. (final and '\n' or ''))
    self.prev_len = n
  else
    self.write(line .. '\n')
  end
  self.drawn = true
  self.last = dode.clock()
end

--- Sets the number of items done, and optionally a note shown at the end of the line (the
-- note stays until replaced, since a throttled update may not be drawn).
-- Redraws when enough time has passed since the last line. Returns the progress object.
function Progress:update(done, extra)
  if getmetatable(self) ~= Progress then error('dode.progress.update: call it as a method, p:update(done)', 2) end
  if not finite(done) then
    error(fmt('dode.progress.update: done must be a finite number (got %s)', describe(done)), 2)
  end
  if extra ~= nil and type(extra) ~= 'string' and type(extra) ~= 'number' then
    error(fmt('dode.progress.update: extra must be a string (got %s)', describe(extra)), 2)
  end
  if self.finished then return self end
  self.done = done
  if extra ~= nil then self.extra = tostring(extra) end
  if self.quiet then return self end
  if dode.clock() - self.last >= self.interval then draw(self, false) end
  return self
end

--- Adds k (default 1) to the number done. Returns the progress object.
function Progress:advance(k, extra)
  if getmetatable(self) ~= Progress then error('dode.progress.advance: call it as a method, p:advance([k])', 2) end
  if k == nil then k = 1 end
  if not finite(k) then error(fmt('dode.progress.advance: k must be a finite number (got %s)', describe(k)), 2) end
  return self:update(self.done + k, extra)
end

--- Prints the final line (done, rate, elapsed time, and `text` when given) and ends the
-- display. Returns the elapsed seconds; later calls print nothing and return the same.
function Progress:finish(text)
  if getmetatable(self) ~= Progress then error('dode.progress.finish: call it as a method, p:finish()', 2) end
  if text ~= nil and type(text) ~= 'string' and type(text) ~= 'number' then
    error(fmt('dode.progress.finish: text must be a string (got %s)', describe(text)), 2)
  end
  if self.finished then return self.elapsed end
  if text ~= nil then self.extra = tostring(text) end
  self.elapsed = dode.clock() - self.t0
  if not self.quiet then draw(self, true) end
  self.finished = true
  return self.elapsed
end

help.register(M, 'dode.progress', 'dode.progress',
  "Progress bars on stderr: local p = require('dode.progress').new{total = n, label = '...'}; p:update(i); p:finish().")
help.register(M.new, 'dode.progress.new',
  "dode.progress.new{total =, label =, quiet = false, every = 0.5, unit = 'it', tty =, write =}",
  'A progress display on stderr. On a terminal it redraws in place at most every 0.1 s; '
  .. 'otherwise it prints a line at most every `every` * 10 s and a final line. '
  .. 'quiet (or the environment variable DODE_QUIET=1) prints nothing. '
  .. '`tty` overrides terminal detection and `write(text)` replaces dode.write_stderr (both mainly for tests). '
  .. 'Without total, only the count and rate show.')
help.register(Progress.update, 'dode.progress.Progress:update', 'p:update(done [, extra_text])',
  'Sets the number of items done and an optional note; redraws when due. Returns p.')
help.register(Progress.advance, 'dode.progress.Progress:advance', 'p:advance([k = 1 [, extra_text]])',
  'Adds k to the number done; redraws when due. Returns p.')
help.register(Progress.finish, 'dode.progress.Progress:finish', 'p:finish([text])',
  'Prints the final line (with the elapsed time and text) unless quiet; later calls do nothing. '
  .. 'Returns the elapsed seconds.')
help.register(M.duration, 'dode.progress.duration', 'dode.progress.duration(seconds)',
  'Formats seconds as 2.5s, 12s, 3:05 or 1:02:03.')
help.register(M.env_quiet, 'dode.progress.env_quiet', 'dode.progress.env_quiet()',
  'True when the environment variable DODE_QUIET asks for no progress output.')

return M
