-- The MPI part of Scripts/bench, run by it under `mpirun -n 1` and `mpirun -n 2` (or by hand:
-- `mpirun -n 2 .build/release/dode Scripts/bench_mpi.lua [--quick]`). One job — a D-ODE fit of
-- the digits MLP (DDIM, N = 10, K = 10) on a global batch, then sampling its D-variant on a
-- fresh global batch — timed end to end on rank 0 (best of `reps`, ranks in step through
-- barriers), and the collective overhead per evaluation: the same fit with its sums added over
-- the ranks (world = dode.mpi) and without (world = false, the same shards and work), in
-- alternation (noisy: the difference is small against the fit), and the collective alone, timed
-- over many calls in step (one allreduce of m² + m + 1 exact sums of 72 int64 words, then one
-- of the counts; m = 1 direction). Rank 0 prints one JSON line.
local quick = arg[1] == '--quick'
local w = dode.mpi
local reps = quick and 2 or 5
local n = quick and 512 or 4096
local den = dode.models.digits()
local vp = den:schedule()
local grid = dode.grid.discrete(vp, 10, { spacing = 'trailing' })
local s = dode.solver.ddim()

local function timed(fn)
  w.barrier()
  local t0 = dode.clock()
  local r = fn()
  w.barrier()
  return dode.clock() - t0, r
end

local xfit, xeval = w.randn(dode.Generator(1), n, 64), w.randn(dode.Generator(2), n, 64)
local job, fit_t, sample_t, with_world, alone = math.huge, math.huge, math.huge, math.huge, math.huge
local nfe
for _ = 1, reps do
  local tf, fit = timed(function()
    return dode.distill.fit{ solver = s, denoiser = den, x = xfit, grid = grid, k = 10 }
  end)
  local ts = timed(function() return fit:solver():sample(den, xeval, grid) end)
  nfe = #fit.lambdas
  fit_t, sample_t, job = math.min(fit_t, tf), math.min(sample_t, ts), math.min(job, tf + ts)
  -- The collective's price: the same local work with and without the sums added over ranks.
  with_world = math.min(with_world, (timed(function()
    return dode.distill.fit{ solver = s, denoiser = den, x = xfit, grid = grid, k = 10, targets = nil }
  end)))
  alone = math.min(alone, (timed(function()
    return dode.distill.fit{ solver = s, denoiser = den, x = xfit, grid = grid, k = 10, world = false }
  end)))
end
-- One evaluation of the digits MLP at batch 1024 on this rank's threads.
local x1024, p = dode.randn(dode.Generator(3), 1024, 64), grid[3]
local eval = math.huge
for _ = 1, 5 * reps do
  local t0 = dode.clock(); local _ = den(x1024, p); eval = math.min(eval, dode.clock() - t0)
end
eval = w.allreduce(eval, 'max')
-- The collective itself, ranks in step: what every fitted evaluation adds.
local collective = math.huge
for _ = 1, reps do collective = math.min(collective, dode._bench.fit_collective(quick and 200 or 2000)) end
if w.root then
  print(dode.json.encode{ ranks = w.size, threads = dode.threads(), batch = n, nfe = nfe, job_s = job, fit_s = fit_t,
    sample_s = sample_t, fit_with_world_s = with_world, fit_alone_s = alone,
    fit_world_minus_alone_per_eval_s = (with_world - alone) / nfe, collective_s = collective, mlp_eval_1024_s = eval })
end
