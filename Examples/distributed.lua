-- D-ODE on the Fashion-MNIST U-Net across MPI ranks (one machine or many).
--
--   mpirun -n 2 Scripts/dode Examples/distributed.lua [--quick] [--out DIR] [--n_fit 256] [--n_eval 512]
--   Scripts/dode Examples/distributed.lua            -- the same job in one process
--
-- Every rank takes its rows of each global batch (dode.mpi.randn: row i of the noise is the
-- same whatever the number of ranks), fits the D-variants of DDIM and DPM-Solver++(2M) at NFE 5
-- with the normal-equation sums added over the ranks once per evaluation (exact sums: λ is
-- bit-for-bit what one process fitting the whole batch gets), samples base and D-variant from
-- held-out noise, and scores them against a fine DDIM reference from the same noise — the RMSE
-- over every rank's samples (dode.metrics.rmse with world = dode.mpi). The samples are gathered
-- on rank 0, which scores their Fréchet distance to real test images (Fashion-classifier
-- features), writes them (.npy) and the fits, and prints the table. Rank 0 also checks that a
-- fit it makes alone on the whole batch has the same coefficients. About 3 minutes on 2 cores.
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local P = require 'dode.protocols'

local opts = cmdline{
  description = 'D-ODE on the Fashion U-Net across MPI ranks: DDIM and DPM-Solver++(2M), base vs D',
  { 'n_fit', 256, 'global batch the coefficients are fitted on' },
  { 'n_eval', 512, 'global held-out batch the solvers are scored on' },
  { 'nfe', 5, 'steps (= evaluations) of the students' },
  { 'k', 10, 'teacher refinement factor K' },
  { 'ref_steps', 100, 'DDIM steps of the reference' },
  { 'n_real', 2000, 'real test images for the Fréchet distance' },
}
if opts.quick then opts.n_fit, opts.n_eval, opts.nfe, opts.k, opts.ref_steps, opts.n_real = 8, 16, 3, 2, 10, 200 end
local w = dode.mpi
if w.root then cmdline.mkdir(opts.out) end
w.print(string.format('dode %s distributed: %d rank%s (%s), %d threads each; %s', dode.version, w.size,
  w.size == 1 and '' or 's', w.library, dode.threads(), cmdline.describe(opts)))

local prob = P.fashion{ steps = opts.ref_steps }
local den, vp = prob.denoiser, prob.schedule
-- This rank's rows of the global batches.
local xfit = w.randn(dode.Generator(1), opts.n_fit, 1, 32, 32)
local xeval = w.randn(dode.Generator(2), opts.n_eval, 1, 32, 32)
local first, count = w.rows(opts.n_eval)
local t0 = dode.clock()
local ref = dode.solver.ddim():sample(den, xeval, dode.grid.discrete(vp, opts.ref_steps, { spacing = 'trailing' }))
w.print(string.format('reference: DDIM with %d steps on %d samples (rows %d..%d on rank 0) in %.1f s',
  opts.ref_steps, opts.n_eval, first, first + count - 1, dode.clock() - t0))

local real_feats = w.root and dode.features.fashion(dode.data.fashion{ split = 'test', n = opts.n_real }) or nil
local function frechet(x) return dode.metrics.frechet(dode.features.fashion(x:clamp(-1, 1)), real_feats) end
local tb = Table.new{
  columns = { 'solver', 'nfe', 'rmse_base', 'rmse_d', 'gain', 'frechet_base', 'frechet_d', 'seconds_fit' },
  formats = { rmse_base = '%.4f', rmse_d = '%.4f', gain = '%+.1f%%', frechet_base = '%.2f', frechet_d = '%.2f',
    seconds_fit = '%.1f' },
}
local grid = dode.grid.discrete(vp, opts.nfe, { spacing = 'trailing' })
for _, c in ipairs({ { 'ddim', 'DDIM' }, { 'dpmpp2m', 'DPM-Solver++(2M)' } }) do
  local solver = P.solvers[c[1]]()
  local t1 = dode.clock()
  local fit = dode.distill.fit{ solver = solver, denoiser = den, x = xfit, grid = grid, k = opts.k,
    seed = 1 }   -- over every rank
  local tfit = dode.clock() - t1
  local base = solver:sample(den, xeval, grid)
  local dvar = fit:solver(solver):sample(den, xeval, grid)
  local rb = dode.metrics.rmse(base, ref, { world = w })
  local rd = dode.metrics.rmse(dvar, ref, { world = w })
  local all_base, all_d = w.gather(base), w.gather(dvar)
  if w.root then
    fit:save(string.format('%s/fit_%s_%d.json', opts.out, c[1], opts.nfe))
    dode.save(string.format('%s/samples_%s_%d_base.npy', opts.out, c[1], opts.nfe), all_base)
    dode.save(string.format('%s/samples_%s_%d_d.npy', opts.out, c[1], opts.nfe), all_d)
    tb:add{ solver = c[2], nfe = solver:plan(grid).nfe, rmse_base = rb, rmse_d = rd, gain = 100 * (rb - rd) / rb,
      frechet_base = frechet(all_base), frechet_d = frechet(all_d), seconds_fit = tfit }
    if w.size > 1 then
      -- The whole fitting batch on rank 0 alone gives the same coefficients, bit for bit.
      local alone = dode.distill.fit{ solver = solver, denoiser = den, grid = grid, k = opts.k, world = false,
        x = dode.randn(dode.Generator(1), opts.n_fit, 1, 32, 32) }
      for k = 1, #fit.lambdas do
        assert(alone.lambdas[k] == fit.lambdas[k],
          string.format('λ_%d differs from one process: %.17g vs %.17g', k, fit.lambdas[k], alone.lambdas[k]))
      end
      print(string.format('%s: the %d coefficients equal a single-process fit of the whole batch bit for bit',
        c[2], #fit.lambdas))
    end
  end
end
w.save(opts.out .. '/reference.npy', ref)
if w.root then
  print()
  print(tb)
  tb:save_csv(opts.out .. '/results.csv')
  tb:save_json(opts.out .. '/results.json')
  print('wrote ' .. opts.out .. '/results.csv, results.json, fit_*.json, samples_*.npy and reference.npy')
end
