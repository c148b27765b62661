-- Solvers and D-ODE through the Lua API: the stepper is bit-identical to sample, plans and
-- NFE, keep/callbacks, Lua-written solvers (closed-form λ vs a brute-force minimisation of the
-- same residual), save/load safety, multi-process exchange, and clear errors.
local T = require('dode.tester').new('solvers and distillation (Lua)')
local S = require 'dode.solvers'

local vp = dode.schedule.vp{}
local den = dode.data.mixture('blobs32d', vp)
local grid = dode.grid.discrete(vp, 5, { spacing = 'trailing' })
local x = dode.randn(dode.Generator(4), 64, den:dim())

T:add('a hand-driven stepper gives bit-identical results to sample', function(t)
  for _, s in ipairs{ dode.solver.dpmpp{ order = 3 }, dode.solver.heun(), dode.solver.unipc{ order = 3 },
                      S.kutta3() } do
    local a = s:sample(den, x, grid)
    local st = s:start(grid, x)
    while not st:done() do st:step(den(st:x(), st:point())) end
    t:eq((a - st:x()):abs():max(), 0, s:name() .. ': stepper == sample')
    -- One buffer the loop overwrites every evaluation: the run must keep its own copies.
    local buf = dode.zeros(x:size(1), den:dim())
    st = s:start(grid, x)
    while not st:done() do st:step(den:into(buf, st:x(), st:point())) end
    t:eq((a - st:x()):abs():max(), 0, s:name() .. ': stepper with a reused buffer == sample')
    -- Buffers the run lends: no copy, same result.
    st = s:start(grid, x)
    while not st:done() do st:step(den:into(st:buffer(), st:x(), st:point())) end
    t:eq((a - st:x()):abs():max(), 0, s:name() .. ': stepper with st:buffer() == sample')
  end
  local st = dode.solver.ddim():start(grid, x)
  while not st:done() do st:step(den(st:x(), st:point())) end
  t:raises(function() st:buffer() end, { 'Stepper:buffer', 'finished' })
  -- A lent buffer kept for the next evaluation would overwrite a prediction still in use.
  st = dode.solver.dpmpp{ order = 2 }:start(grid, x)
  local once = st:buffer()
  st:step(den:into(once, st:x(), st:point()))
  t:raises(function() st:step(den:into(once, st:x(), st:point())) end,
    { 'Stepper:step', 'prediction 1', 'new st:buffer()' })
end)

T:add('plans, NFE, callbacks and keep', function(t)
  t:eq(dode.solver.heun():plan(grid).nfe, 9, 'Heun: 2N - 1')
  t:eq(dode.solver.pndm():plan(grid).nfe, 6, 'PNDM: N + 1')
  t:eq(dode.solver.dpmpp{ order = 3, method = 'singlestep' }:plan(grid).nfe, 13,
    '3S: 3 per step, first order into s = 0')
  t:eq(table.concat(dode.solver.dpmpp{ order = 3 }:plan(grid).orders, ','), '1,2,3,2,1',
    'multistep warm-up, then lower orders at the end below 15 steps')
  local seen = {}
  local out, kept = dode.solver.ddim():sample(den, x, grid,
    { keep = { 1, 3 }, callback = function(st) seen[#seen + 1] = st.i end })
  t:eq(#seen, 5, 'one callback per step')
  t:eq((kept[1] - x):abs():max(), 0, 'keep[1] is the start')
  t:ok(kept[3] ~= nil and kept[2] == nil, 'keep only the requested points')
  t:eq(x:dim(), 2, 'sample leaves x untouched')
  t:ok(tostring(dode.solver.dpmpp{ order = 2 }:plan(grid)):find('NFE 5') ~= nil, 'plan prints')
end)

T:add('D-variants of Lua-written solvers: closed form equals brute force', function(t)
  local s = S.kutta3()
  local targets = dode.distill.targets{ solver = s, denoiser = den, x = x, grid = grid, k = 10 }
  local fit = dode.distill.fit{ solver = s, denoiser = den, x = x, grid = grid, targets = targets }
  local lam = fit.lambdas
  t:eq(#lam, s:plan(grid).nfe, 'one λ per evaluation')
  -- For evaluation k, the residual of the actual D-variant run is a parabola in λ_k.
  local dir = os.tmpname(); os.remove(dir); os.execute('mkdir -p ' .. dir)
  fit:save(dir .. '/f.json')
  local function residual(k, value)
    local j = dode.load(dir .. '/f.json')
    j.lambdas[k][1] = value
    dode.save(dir .. '/g.json', j)
    local g = dode.distill.load(dir .. '/g.json', { solver = s })
    local st = g:solver():start(grid, x)
    for _ = 1, k do st:step(den(st:x(), st:point())) end
    return ((st:x() - targets[k]) ^ 2):sum()
  end
  for _, k in ipairs{ 2, 3, 5, 8 } do
    local l0 = lam[k]
    local w = math.max(1, math.abs(l0))
    local a, b, c = l0 - w, l0 + 0.37 * w, l0 + w
    local ra, rb, rc = residual(k, a), residual(k, b), residual(k, c)
    local num = (b - a) ^ 2 * (rb - rc) - (b - c) ^ 2 * (rb - ra)
    local den_ = (b - a) * (rb - rc) - (b - c) * (rb - ra)
    local vertex = b - 0.5 * num / den_
    t:close(vertex, l0, 1e-8 * math.max(1, math.abs(l0)) / math.max(1e-300, math.abs(l0)),
      'evaluation ' .. k .. ': vertex of the brute-force parabola = closed-form λ (1e-8 relative)')
  end
  os.execute('rm -rf ' .. dir)
end)

T:add('fits refuse other solvers, grids and schedules', function(t)
  local fit = dode.distill.fit{ solver = dode.solver.dpmpp{ order = 2 }, denoiser = den, x = x, grid = grid, k = 4 }
  local ds = fit:solver()
  t:raises(function() ds:sample(den, x, dode.grid.discrete(vp, 5, { spacing = 'leading' })) end,
    { 'another grid', 'point 1' })
  t:raises(function() fit:solver(dode.solver.dpmpp{ order = 3 }) end, { 'other options', 'order: fit 2, solver 3' })
  t:raises(function() fit:solver(dode.solver.ddim()) end, { "made for solver 'dpmpp'" })
  local vp2 = dode.schedule.vp{ betas = 'cosine' }
  local den2 = dode.data.mixture('blobs32d', vp2)
  t:raises(function() ds:sample(den2, x, dode.grid.discrete(vp2, 5, { spacing = 'trailing' })) end,
    { 'another schedule', 'betas: fit linear, grid cosine' })
  t:raises(function() dode.solver.ddim():sample(den, x, dode.grid.discrete(vp2, 5)) end,
    { "grid's schedule", "not the denoiser's" })
end)

T:add('fits over batches equal a single fit bit for bit (exact sums)', function(t)
  local xs = dode.randn(dode.Generator(4), 64, den:dim())
  local union = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = xs, grid = grid, k = 4 }
  local parts = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, grid = grid, k = 4,
    x = { xs:narrow(1, 1, 7), xs:narrow(1, 8, 50), xs:narrow(1, 58, 7) } }
  local alone = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = xs, grid = grid, k = 4,
    world = false }
  for k = 1, #union.lambdas do
    t:eq(parts.lambdas[k], union.lambdas[k], 'three uneven batches = union at evaluation ' .. k)
    t:eq(alone.lambdas[k], union.lambdas[k], 'world = false in a single process at evaluation ' .. k)
  end
  t:eq(parts.metadata.batch, '64', 'metadata counts every row')
end)

T:add('bad input gives clear errors', function(t)
  t:raises(function() dode.solver.dpmpp{ order = 4 } end,
    { 'dode.solver.dpmpp', "option 'order' must be 1, 2 or 3 (got 4)" })
  t:raises(function() dode.solver.ddim{ oder = 2 } end, { "unknown option 'oder'" })
  t:raises(function() dode.solver.unipc{ variant = 'bh3' } end, { "option 'variant' must be one of 'bh1', 'bh2'" })
  t:raises(function() dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = x, grid = grid, k = 1 } end,
    { "option 'k'" })
  t:raises(function()
      dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = x, grid = grid, targets = { x } }
    end, { 'one state per evaluation' })
  t:raises(function() dode.grid.timesteps(vp, { 500 }, { final = 'none' }) end, { 'needs at least 2 levels' })
  local nan = dode.denoiser.fn(function(z, p) return z * (0 / 0) end, { schedule = vp })
  t:raises(function() dode.solver.ddim():sample(nan, x, grid) end, { 'NaN or Inf', 'step 1', 't = 999', 's =' })
  local dir = os.tmpname(); os.remove(dir); os.execute('mkdir -p ' .. dir)
  local f = io.open(dir .. '/bad.json', 'w'); f:write('{"format": "dode.fit", "lambdas": [[1]]}'); f:close()
  t:raises(function() dode.distill.load(dir .. '/bad.json') end,
    { 'dode.distill.load', 'bad.json', 'not a valid dode fit' })
  os.execute('rm -rf ' .. dir)
  local broken = dode.solver.define{ name = 'broken', plan = function(g) return { 1 } end,
    update = function(ctx) return ctx.D end }
  t:raises(function() broken:sample(den, x, grid) end, { "solver 'broken'", 'one order per grid step' })
  -- Non-integral numbers in a Lua plan are errors, not crashes.
  local nanorders = dode.solver.define{ name = 'nanorders',
    plan = function(g) local o = {}; for i = 1, #g - 1 do o[i] = 0 / 0 end; return o end,
    update = function(ctx) return ctx.D end }
  t:raises(function() nanorders:plan(grid) end,
    { "solver 'nanorders'", 'plan entry 1 must be an order in 1..64 (got nan)' })
  local nanstep = dode.solver.define{ name = 'nanstep',
    plan = function(g) return { { step = 0 / 0, at = g[1], lands = g[2] } } end,
    update = function(ctx) return ctx.D end }
  t:raises(function() nanstep:plan(grid) end, { "solver 'nanstep'", "lacks a valid 'step'" })
  local hugeorder = dode.solver.define{ name = 'hugeorder',
    plan = function(g) return { { step = 1, at = g[1], lands = g[2], order = 1e300 } } end,
    update = function(ctx) return ctx.D end }
  t:raises(function() hugeorder:plan(grid) end, { "solver 'hugeorder'", "invalid 'order'" })
  local bigorder = dode.solver.define{ name = 'bigorder',
    plan = function(g) return { { step = 1, at = g[1], lands = g[2], order = 100 } } end,
    update = function(ctx) return ctx.D end }
  t:raises(function() bigorder:plan(grid) end, { "solver 'bigorder'", 'stage and order in 1..64' })
  t:raises(function() dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = x, grid = grid, k = 4,
    exchange = { dir = '.', rank = 0, world = 2 } } end, { 'dode.distill.fit', 'file exchange', 'mpirun' })
  t:raises(function() dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = x, grid = grid, k = 4,
    world = 3 } end, { "option 'world' must be dode.mpi, true or false (got 3)" })
end)

T:add('Lua function denoisers and guidance', function(t)
  local exact = dode.denoiser.fn(function(z, p) return den(z, p) end, { schedule = vp })
  t:eq((dode.solver.ddim():sample(exact, x, grid) - dode.solver.ddim():sample(den, x, grid)):abs():max(), 0,
    'fn wraps a denoiser exactly')
  local eps = dode.denoiser.fn(function(z, p) return (z - den(z, p) * p.alpha) / p.sigma end,
    { schedule = vp, predicts = 'eps' })
  t:close(dode.solver.ddim():sample(eps, x, grid), dode.solver.ddim():sample(den, x, grid), 1e-10,
    'eps adapter inverts')
end)

T:add('the portable and AVX2 mixture kernels agree', function(t)
  local code = "local vp = dode.schedule.vp{}; local den = dode.data.mixture('blobs32d', vp); " ..
    "local x = dode.randn(dode.Generator(4), 64, 32); local d = den(x, vp:point{t = 500}); " ..
    "io.write(string.format('%.17g %.17g', d:sum(), d:norm()))"
  local function run(env)
    local p = io.popen(string.format('%s %q -e %q', env, arg[-1], code))
    local out = p:read('a'); p:close()
    local a, b = out:match('(%S+) (%S+)')
    return tonumber(a), tonumber(b)
  end
  local s1, n1 = run('DODE_NO_AVX2=1')
  local s2, n2 = run('DODE_NO_AVX2=0')
  t:ok(s1 ~= nil and s2 ~= nil, 'both runs printed results')
  -- FMA and plain multiply-add differ in the last bits only: 1e-13 relative on the norm.
  t:close(n1, n2, 1e-13, 'norms agree')
  t:close(s1, s2, 1e-10, 'sums agree', { abs = true })
end)

T:run()
