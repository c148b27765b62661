--- dode.tester: a small unit-test harness for Lua test scripts (in the spirit of torch7's Tester).
--
--   local T = require('dode.tester').new('tensor core')
--   T:add('broadcasting', function(t)
--     t:close(a + b, expected, 1e-12, 'a row broadcasts over a matrix')
--   end)
--   T:run()   -- prints each test, then "N passed, N failed"; exits with status 1 on failure
--
-- Tolerances are relative in the sense of docs/design.md §3.7: max|a - b| / max|b|, with `abs = true`
-- for an absolute bound. Every check records a failure with its message and location instead
-- of stopping the test, so one run reports everything that is wrong.
local dode = require 'dode'

local Tester = {}
Tester.__index = Tester

local M = {}

--- The bytes of a file, or nil when it cannot be opened (for checks on files a test wrote).
function M.read_file(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  return s
end

function M.new(name)
  return setmetatable({ name = name or 'tests', tests = {}, order = {} }, Tester)
end

function Tester:add(name, fn)
  assert(type(name) == 'string' and type(fn) == 'function', 'Tester:add(name, fn)')
  if self.tests[name] then error('duplicate test name ' .. name, 2) end
  self.tests[name] = fn
  self.order[#self.order + 1] = name
  return self
end

local Check = {}
Check.__index = Check

function Check:fail(msg, level)
  local info = debug.getinfo((level or 2) + 1, 'Sl')
  local where = info and (info.short_src .. ':' .. info.currentline) or '?'
  self.failures[#self.failures + 1] = where .. ': ' .. msg
end

function Check:ok(cond, msg)
  self.count = self.count + 1
  if not cond then self:fail(msg or 'condition is false', 2) end
  return cond
end

function Check:eq(a, b, msg)
  self.count = self.count + 1
  if a ~= b then self:fail(string.format('%s: expected %s, got %s', msg or 'eq', tostring(b), tostring(a)), 2) end
end

--- Relative closeness of tensors or numbers: max|a - b| / max|b| <= tol (absolute if opts.abs).
function Check:close(a, b, tol, msg, opts)
  self.count = self.count + 1
  local err, scale
  if type(a) == 'number' and type(b) == 'number' then
    err, scale = math.abs(a - b), math.abs(b)
  elseif dode.is_tensor(a) and dode.is_tensor(b) then
    local sa, sb = table.concat(a:shape(), 'x'), table.concat(b:shape(), 'x')
    if sa ~= sb then self:fail(string.format('%s: shapes %s and %s differ', msg or 'close', sa, sb), 2) return end
    err, scale = (a - b):abs():max(), b:abs():max()
  else
    self:fail((msg or 'close') .. ': expected two numbers or two tensors', 2) return
  end
  local rel = (opts and opts.abs) and err or (scale > 0 and err / scale or err)
  if not (rel <= tol) then
    self:fail(string.format('%s: %s error %.3e above tolerance %.1e', msg or 'close',
      (opts and opts.abs) and 'absolute' or 'relative', rel, tol), 2)
  end
  return rel
end

--- Expects fn to raise an error whose message contains every given fragment (plain text).
function Check:raises(fn, fragments, msg)
  self.count = self.count + 1
  local ok, err = pcall(fn)
  if ok then self:fail((msg or 'raises') .. ': no error was raised', 2) return end
  err = tostring(err)
  for _, f in ipairs(type(fragments) == 'table' and fragments or { fragments }) do
    if not err:find(f, 1, true) then
      self:fail(string.format("%s: error %q does not contain %q", msg or 'raises', err, f), 2)
      return
    end
  end
  return err
end

--- Runs the tests (those whose name contains `filter`, if given). Under mpirun every rank runs
-- them (they may use collectives); rank 0 prints the report, any rank prints its own failures
-- prefixed with its rank, and the totals count every rank.
function Tester:run(filter)
  local passed, failed = 0, 0
  local w = dode.mpi
  local many = w.size > 1
  local function say(line) if not many or w.root then print(line) end end
  local function fail_line(line) print(many and ('[rank ' .. w.rank .. '] ' .. line) or line) end
  say('== ' .. self.name)
  for _, name in ipairs(self.order) do
    if not filter or name:find(filter, 1, true) then
      local c = setmetatable({ failures = {}, count = 0 }, Check)
      local t0 = dode.clock()
      local ok, err = xpcall(self.tests[name], debug.traceback, c)
      if not ok then c.failures[#c.failures + 1] = 'error: ' .. tostring(err) end
      if c.count == 0 and ok then c.failures[#c.failures + 1] = 'the test made no check' end
      if #c.failures == 0 then
        passed = passed + 1
        say(string.format('  ok   %-50s %3d checks %7.3f s', name, c.count, dode.clock() - t0))
      else
        failed = failed + 1
        fail_line(string.format('  FAIL %s', name))
        for _, f in ipairs(c.failures) do fail_line('       ' .. f) end
      end
    end
  end
  if many then
    local ranks_failed = w.allreduce(failed > 0 and 1 or 0)
    say(string.format('%d passed, %d failed (on %d of %d ranks)', passed, failed, ranks_failed, w.size))
    if ranks_failed > 0 then os.exit(1) end
  else
    print(string.format('%d passed, %d failed', passed, failed))
    if failed > 0 then os.exit(1) end
  end
  return passed, failed
end

return M
