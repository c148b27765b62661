-- Lua misuse inside the functions dode calls back (denoisers written in Lua, solver updates,
-- step callbacks): each case must end in a clear Lua error — or simply work — and never crash,
-- hang or leave the VM unusable.
local T = require('dode.tester').new('Lua misuse inside callbacks')
local vp = dode.schedule.vp{}
local grid = dode.grid.discrete(vp, 4, { spacing = 'trailing' })
local mix = dode.data.mixture('ring6_2d', vp)
local x = dode.randn(dode.Generator(1), 8, 2)
local function lua_den(fn) return dode.denoiser.fn(fn, { schedule = vp }) end
local ddim = dode.solver.ddim()

-- The VM still works: a sample through the exact mixture equals itself run twice.
local function still_works(t, what)
  local a, b = ddim:sample(mix, x, grid), ddim:sample(mix, x, grid)
  t:eq((a - b):abs():max(), 0, what .. ': the VM still samples')
end

T:add('coroutine.yield inside a callback is an error', function(t)
  local den = lua_den(function(z, p) coroutine.yield(1); return z end)
  local co = coroutine.wrap(function() return ddim:sample(den, x, grid) end)
  t:raises(co, { 'Solver:sample', 'the denoiser function raised an error',
    'attempt to yield across a C-call boundary' })
  local upd = dode.solver.define{ name = 'yields',
    plan = function(g) local o = {}; for i = 1, #g - 1 do o[i] = 1 end; return o end,
    update = function(ctx) coroutine.yield(); return ctx.x end }
  t:raises(coroutine.wrap(function() return upd:sample(mix, x, grid) end),
    { "solver 'yields': update raised an error", 'yield across' })
  t:raises(coroutine.wrap(function()
    return ddim:sample(mix, x, grid, { callback = function() coroutine.yield() end })
  end), { 'the callback raised an error', 'yield across' })
  -- Bindings themselves work inside coroutines (their results land on the coroutine's stack).
  local co2 = coroutine.wrap(function() coroutine.yield(dode.zeros(2)); return ddim:sample(mix, x, grid) end)
  t:eq(co2():sum(), 0, 'a binding inside a coroutine returns to it')
  t:eq((co2() - ddim:sample(mix, x, grid)):abs():max(), 0, 'sampling inside a coroutine')
  still_works(t, 'yield')
end)

T:add('errors, os.exit and collectgarbage inside a callback', function(t)
  t:raises(function() ddim:sample(lua_den(function() error('my denoiser failed') end), x, grid) end,
    { 'Solver:sample', 'the denoiser function raised an error', 'my denoiser failed', 'stack traceback' })
  t:raises(function() ddim:sample(lua_den(function() error({ code = 7 }) end), x, grid) end,
    { 'error object is a table value' })
  t:raises(function() ddim:sample(lua_den(function() os.exit(3) end), x, grid) end,
    { 'os.exit: not allowed inside a function dode is calling' })
  t:raises(function() ddim:sample(mix, x, grid, { callback = function() os.exit(0) end }) end,
    { 'os.exit: not allowed' })
  -- A full collection inside a callback: the tensors dode holds are not collected.
  local collected = lua_den(function(z, p) collectgarbage(); collectgarbage(); return mix(z, p) end)
  t:eq((ddim:sample(collected, x, grid) - ddim:sample(mix, x, grid)):abs():max(), 0,
    'collectgarbage() inside a denoiser')
  local n = 0
  ddim:sample(mix, x, grid, { callback = function(s) collectgarbage(); n = n + s.x:sum() * 0 + 1 end })
  t:eq(n, 4, 'collectgarbage() inside a step callback')
  still_works(t, 'errors')
end)

T:add('a callback that re-enters dode', function(t)
  -- A denoiser that samples another model inside itself, and a fit inside a step callback.
  local inner = lua_den(function(z, p)
    local fine = dode.grid.discrete(vp, 3, { spacing = 'trailing' })
    local _ = ddim:sample(mix, z:clone(), fine)
    return mix(z, p)
  end)
  t:eq((ddim:sample(inner, x, grid) - ddim:sample(mix, x, grid)):abs():max(), 0, 'sample inside a denoiser')
  local fits = 0
  ddim:sample(mix, x, grid, { callback = function(s)
    if s.i == 2 then fits = #dode.distill.fit{ solver = ddim, denoiser = mix, x = x, grid = grid, k = 2 }.lambdas end
  end })
  t:eq(fits, 4, 'a fit inside a step callback')
  still_works(t, 're-entry')
end)

T:add('callbacks that return the wrong thing', function(t)
  t:raises(function() ddim:sample(lua_den(function(z) return dode.zeros(3, 3) end), x, grid) end,
    { 'the denoiser function returned shape 3x3 for input shape 8x2' })
  t:raises(function() ddim:sample(lua_den(function(z) return 'x0' end), x, grid) end,
    { 'must return a tensor', "got 'x0'" })
  t:raises(function() ddim:sample(lua_den(function(z) end), x, grid) end, { 'must return a tensor (got nil)' })
  t:raises(function() ddim:sample(lua_den(function(z) return z * (0 / 0) end), x, grid) end,
    { 'NaN or Inf in the denoiser output', 'step 1', 't = 999' })
  -- A Float32 prediction for a Float64 state is converted; a reshaped one of the same size too.
  local f32 = lua_den(function(z, p) return mix(z, p):float() end)
  t:close(ddim:sample(f32, x, grid), ddim:sample(mix, x, grid), 1e-6, 'a Float32 prediction is converted')
  local flat = lua_den(function(z, p) return mix(z, p):reshape(16) end)
  t:eq((ddim:sample(flat, x, grid) - ddim:sample(mix, x, grid)):abs():max(), 0,
    'a reshaped prediction of the same size')
  local bad = dode.solver.define{ name = 'bad',
    plan = function(g) local o = {}; for i = 1, #g - 1 do o[i] = 1 end; return o end,
    update = function(ctx) return dode.zeros(1) end }
  t:raises(function() bad:sample(mix, x, grid) end, { "solver 'bad'", 'returned shape 1, the state has 8x2' })
  still_works(t, 'wrong returns')
end)

T:add('debug hooks, deep recursion and many live tensors', function(t)
  -- A user's count hook that raises stops a long run through a Lua denoiser.
  local slow = lua_den(function(z, p) local s = 0; for i = 1, 1000 do s = s + i end; return mix(z, p) end)
  local fine = dode.grid.discrete(vp, 200, { spacing = 'trailing' })
  local calls = 0
  debug.sethook(function() calls = calls + 1; if calls > 50 then error('stopped by my hook') end end, '', 1000)
  local ok, err = pcall(ddim.sample, ddim, slow, x, fine)
  debug.sethook()
  t:ok(not ok and tostring(err):find('stopped by my hook', 1, true),
    'a hook error ends the run: ' .. tostring(err):sub(1, 120))
  -- Unbounded recursion through dode: Lua's C-stack limit, one error, one traceback.
  local rec
  rec = lua_den(function(z, p) return rec(z, p) end)
  local ok2, err2 = pcall(rec, x, grid[2])
  t:ok(not ok2 and tostring(err2):find('stack overflow', 1, true),
    'recursion through a denoiser ends in a stack overflow error')
  local _, tracebacks = tostring(err2):gsub('stack traceback:', '')
  t:eq(tracebacks, 1, 'one traceback, not one per level')
  t:ok(#tostring(err2) < 10000, 'the message stays short (' .. #tostring(err2) .. ' characters)')
  local function r(n) return r(n + 1) + 1 end
  t:raises(function() r(1) end, { 'stack overflow' })
  -- 10^6 live tensors at once.
  local keep = {}
  for i = 1, 1e6 do keep[i] = dode.zeros(1) end
  t:eq(#keep, 1e6, 'a million live tensors')
  keep = nil
  collectgarbage()
  still_works(t, 'hooks and recursion')
end)

T:add('sizes past what a computation can take are errors', function(t)
  -- A row count whose split over ranks would overflow 64 bits, raw images where features are
  -- expected, and a saved fit whose step numbers are absurd: errors, never a trap.
  local first, count = dode.mpi.rows(math.maxinteger)
  t:eq(first, 1, 'rows of a huge batch: first'); t:ok(count > 0, 'rows of a huge batch: a count')
  t:raises(function() dode.mpi.randn(dode.Generator(1), math.maxinteger, 2) end, { 'dode.mpi.randn', 'too large' })
  local g = dode.Generator(1)
  t:raises(function() dode.metrics.frechet(dode.randn(g, 4, 5000), dode.randn(g, 4, 5000)) end,
    { 'dode.metrics.frechet', '5000 features per sample', 'at most 4096' })
  local vp = dode.schedule.vp{}
  local fit = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = dode.data.mixture('ring6_2d', vp),
    x = dode.randn(g, 16, 2), grid = dode.grid.discrete(vp, 3, { spacing = 'trailing' }), k = 2 }
  local path = os.tmpname()
  fit:save(path)
  local text = require('dode.tester').read_file(path):gsub('"step": *1', '"step": -9223372036854775807', 1)
  local f = assert(io.open(path, 'w')); f:write(text); f:close()
  t:raises(function() dode.distill.load(path) end, { 'dode.distill.load', 'out of range' })
  os.remove(path)
end)

T:run()
