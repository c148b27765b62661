-- dode benchmarks. Each workload reports its time and the ratio to a baseline timed in the same
-- run (best of several repetitions, so a noisy neighbour inflates both or neither).
local cmdline = require 'dode.cmdline'
local opts = cmdline{ description = 'dode benchmarks', { 'reps', 7, 'repetitions (best is kept)' } }
local reps = opts.quick and 2 or math.floor(opts.reps)

local function best(fn, n)
  local b = math.huge
  for _ = 1, n or reps do
    local t0 = dode.clock()
    fn()
    b = math.min(b, dode.clock() - t0)
  end
  return b
end

local rows = {}
local function report(name, t, base, base_name, target, note)
  local ratio = t / base
  rows[#rows + 1] = { name = name, seconds = t, baseline = base_name, baseline_seconds = base,
    ratio = ratio, target = target, ok = (target == nil) or ratio <= target, note = note }
  print(string.format('%-44s %10.3f ms  %-28s %10.3f ms  %6.2fx  (target <= %s) %s', name, t * 1e3,
    base_name, base * 1e3, ratio, target and string.format('%.2fx', target) or '-', note or ''))
end

print(string.format('dode %s, %d threads, best of %d', dode.version, dode.threads(), reps))

-- 1. y = a*x + b*y over 1e7 doubles vs memcpy of the same 80 MB.
do
  local n = opts.quick and 1000000 or 10000000
  local g = dode.Generator(1)
  local x, y, z = dode.randn(g, n), dode.randn(g, n), dode.zeros(n)
  local t = best(function() y:axpby(0.5, x, 0.25) end)
  local m = best(function() dode._bench.memcpy(z, x) end)
  report(string.format('axpby y = a*x + b*y, %g doubles', n), t, m, 'memcpy of the same bytes', 1.5)
end

-- 2. 1024x1024 Float64 matrix product vs calling cblas_dgemm directly.
do
  local n = opts.quick and 256 or 1024
  local g = dode.Generator(2)
  local a, b, c = dode.randn(g, n, n), dode.randn(g, n, n), dode.zeros(n, n)
  local t = best(function() local _ = a:mm(b) end)
  local d = best(function() dode._bench.dgemm(a, b, c) end)
  report(string.format('x:mm(y) %dx%d float64', n, n), t, d, 'cblas_dgemm direct', 1.2,
    string.format('%.1f GFLOP/s', 2 * n ^ 3 / t / 1e9))
end

-- 3. Lua -> Swift call overhead: a loop calling a no-op binding vs the same loop calling a Lua
-- no-op; the difference per call is the binding cost.
do
  local n = opts.quick and 1000000 or 10000000
  local noop = dode._bench.noop
  local function lua_noop() end
  local t = best(function() for _ = 1, n do noop() end end)
  local l = best(function() for _ = 1, n do lua_noop() end end)
  local per = (t - l) / n
  rows[#rows + 1] = { name = 'Lua -> Swift call overhead', seconds = per, baseline = 'Lua function call',
    baseline_seconds = l / n, target_ns = 100, ok = per * 1e9 <= 100 }
  print(string.format('%-44s %10.1f ns  (Lua->Lua call %.1f ns; target <= 100 ns)', 'Lua -> Swift call overhead (per call)',
    per * 1e9, l / n * 1e9))
end

cmdline.mkdir(opts.out)
dode.save(opts.out .. '/bench.json', { dode = dode.version, threads = dode.threads(), reps = reps,
  options = cmdline.describe(opts), results = rows })
print('wrote ' .. opts.out .. '/bench.json')
