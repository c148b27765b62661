-- The MPI world (dode.mpi). Runs alone (a world of one) with the other Lua tests, and under
-- `mpirun -n 1, 2, 3, 4` from Scripts/test: sharded sampling and D-ODE fits must equal, bit for
-- bit, what one process computes on the whole batch (rank 0 recomputes it here), and metrics
-- over ranks must equal the single-process values (bit for bit where the sums are exact,
-- 1e-12 relative for the Fréchet distance, whose covariance sums are plain Float64).
local T = require('dode.tester').new('MPI world (' .. dode.mpi.size .. ' rank' ..
  (dode.mpi.size == 1 and '' or 's') .. ')')
local w = dode.mpi
local N = 37                           -- uneven shards for 2, 3 and 4 ranks

T:add('world fields and collectives', function(t)
  t:ok(w.size >= 1 and w.rank >= 0 and w.rank < w.size, 'rank in 0..size-1')
  t:eq(dode.world, w, 'dode.world is dode.mpi')
  t:eq(w.root, w.rank == 0, 'root is rank 0')
  t:eq(w.allreduce(w.rank + 1), w.size * (w.size + 1) / 2, 'sum of numbers')
  t:eq(w.allreduce(w.rank, 'max'), w.size - 1, 'max')
  t:eq(w.allreduce(w.rank, 'min'), 0, 'min')
  local l = w.allreduce({ 1, w.rank })
  t:eq(l[1], w.size, 'list sum'); t:eq(l[2], w.size * (w.size - 1) / 2, 'list sum 2')
  local s = w.allreduce(dode.ones(2, 3) * (w.rank + 1))
  t:eq(s:min(), w.size * (w.size + 1) / 2, 'tensor sum'); t:eq(s:max(), s:min(), 'tensor sum everywhere')
  t:eq(w.bcast({ a = 1, b = 'root' .. w.rank }).b, 'root0', 'a table from rank 0')
  t:eq(w.bcast('last' .. w.rank, w.size - 1), 'last' .. (w.size - 1), 'a string from the last rank')
  t:eq(w.bcast(dode.ones(3) * w.rank, w.size - 1):sum(), 3 * (w.size - 1), 'a tensor from the last rank')
  local ranks = w.gather(w.rank)
  if w.root then for r = 0, w.size - 1 do t:eq(ranks[r + 1], r, 'gathered number of rank ' .. r) end
  else t:eq(ranks, nil, 'gather gives nil off the root') end
  -- Rows: contiguous, in rank order, sizes within one of each other, covering 1..N.
  local first, count = w.rows(N)
  local all = w.allgather(dode.tensor({ { first, count } }))
  local next_row = 1
  for r = 1, w.size do
    t:eq(all[r][1], next_row, 'rank ' .. (r - 1) .. ' starts where the previous ended')
    t:ok(math.abs(all[r][2] - N / w.size) < 1, 'balanced share')
    next_row = next_row + all[r][2]
  end
  t:eq(next_row, N + 1, 'the shares cover the batch')
  -- Sharded noise equals the rows of the global draw, and the generator advances once.
  local g = dode.Generator(21)
  local x = w.randn(g, N, 5)
  t:eq(g:counter(), 1, 'one draw')
  t:eq((x - dode.randn(dode.Generator(21), N, 5):narrow(1, first, count)):abs():max() or 0, 0,
    'rows of the global draw')
  -- One file on rank 0 from every rank's rows (the path chosen on rank 0).
  local path = w.bcast(os.tmpname()) .. '.npy'
  local ret = w.save(path, x)
  w.barrier()
  if w.root then
    t:eq(ret, path, 'save returns the path on rank 0')
    t:eq((dode.load(path) - dode.randn(dode.Generator(21), N, 5)):abs():max(), 0, 'the saved file is the global batch')
    os.remove(path); os.remove(path:sub(1, -5))
  else
    t:eq(ret, nil, 'save returns nil elsewhere')
  end
end)

T:add('collective errors name both shapes on every rank', function(t)
  if w.size == 1 then
    t:raises(function() w.allreduce(dode.ones(2), 'mean') end, { 'dode.mpi.allreduce', "'sum', 'max' or 'min'" })
    t:raises(function() w.gather(dode.tensor(1)) end, { 'first (row) dimension' })
    return
  end
  local bad = dode.ones(2, w.rank == w.size - 1 and 3 or 2)
  t:raises(function() w.allreduce(bad) end,
    { 'tensor shapes differ across ranks', 'rank 0 has a float64 tensor of shape 2x2',
      'rank ' .. (w.size - 1) .. ' has a float64 tensor of shape 2x3' })
  t:raises(function() w.gather(dode.ones(1, w.rank + 1)) end,
    { 'differ across ranks', 'rank 1 has a float64 tensor of shape Nx2' })
end)

local vp = dode.schedule.vp{}
local mix = dode.data.mixture('blobs32d', vp)
local digits = dode.models.digits()
local function problems() return { { 'mixture', mix, 32 }, { 'digits MLP', digits, 64 } } end

T:add('sharded sampling equals one process bit for bit', function(t)
  for _, p in ipairs(problems()) do
    local name, den, d = p[1], p[2], p[3]
    local grid = dode.grid.discrete(den:schedule(), 6, { spacing = 'trailing' })
    local s = dode.solver.dpmpp{ order = 2 }
    local y = s:sample(den, w.randn(dode.Generator(7), N, d), grid)
    local full = w.gather(y)
    -- Rank 0 samples the whole batch alone and sends it to every rank.
    local ref = w.bcast(w.root and s:sample(den, dode.randn(dode.Generator(7), N, d), grid) or nil)
    local first, count = w.rows(N)
    t:eq((y - ref:narrow(1, first, count)):abs():max() or 0, 0, name .. ': this rank\'s rows = one process')
    if w.root then t:eq((full - ref):abs():max(), 0, name .. ': gathered samples = one process') end
  end
end)

T:add('a D-ODE fit over ranks equals one process bit for bit', function(t)
  for _, p in ipairs(problems()) do
    local name, den, d = p[1], p[2], p[3]
    local grid = dode.grid.discrete(den:schedule(), 5, { spacing = 'trailing' })
    for _, s in ipairs({ dode.solver.ddim(), dode.solver.dpmpp{ order = 2 }, dode.solver.heun() }) do
      local fit = dode.distill.fit{ solver = s, denoiser = den, grid = grid, k = 4,
        x = w.randn(dode.Generator(3), N, d) }
      t:eq(fit.metadata.batch, tostring(N), name .. ': the fit counts every rank\'s rows')
      -- Rank 0 fits the whole batch alone and sends its coefficients to every rank.
      local ref = w.bcast(w.root and (function()
        local f = dode.distill.fit{ solver = s, denoiser = den, grid = grid, k = 4,
          x = dode.randn(dode.Generator(3), N, d), world = false }
        return { lambdas = f.lambdas, residual_after = f.residual_after }
      end)() or nil)
      for k = 1, #ref.lambdas do
        t:eq(fit.lambdas[k], ref.lambdas[k], string.format('%s %s: λ_%d', name, s:name(), k))
        t:eq(fit.residual_after[k], ref.residual_after[k], string.format('%s %s: residual %d', name, s:name(), k))
      end
    end
  end
end)

T:add('metrics over ranks equal one process', function(t)
  local a = w.randn(dode.Generator(31), N, 8)
  local b = w.randn(dode.Generator(32), N, 8) * 1.3 + 0.2
  local opts = { world = w }
  local got = {
    rmse = dode.metrics.rmse(a, b, opts),
    median = dode.metrics.median_error(a, b, opts),
    swd = dode.metrics.swd(a, b, { gen = dode.Generator(5), projections = 16, world = w }),
    mmd = dode.metrics.mmd(a, b, opts),
    frechet = dode.metrics.frechet(a, b, opts),
  }
  -- Rank 0 computes every metric on the whole sets alone and sends the values to every rank.
  local ref = w.bcast(w.root and (function()
    local A, B = dode.randn(dode.Generator(31), N, 8), dode.randn(dode.Generator(32), N, 8) * 1.3 + 0.2
    return { rmse = dode.metrics.rmse(A, B), median = dode.metrics.median_error(A, B),
      swd = dode.metrics.swd(A, B, { gen = dode.Generator(5), projections = 16 }),
      mmd = dode.metrics.mmd(A, B), frechet = dode.metrics.frechet(A, B) }
  end)() or nil)
  t:eq(got.rmse, ref.rmse, 'rmse (exact sums)')
  t:eq(got.median, ref.median, 'median error')
  t:eq(got.swd, ref.swd, 'swd')
  t:eq(got.mmd, ref.mmd, 'mmd (exact pair sums)')
  t:close(got.frechet, ref.frechet, 1e-12, 'frechet')
end)

T:run()
