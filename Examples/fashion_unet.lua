-- D-ODE on a real image model: the built-in Fashion-MNIST U-Net (a diffusers UNet2DModel run natively).
--
--   Scripts/dode Examples/fashion_unet.lua [--quick] [--out DIR] [--n_eval 500] [--n_fit 256]
--                                          [--ref_steps 250] [--clip 0]
--
-- Fits the D-variants of DDIM and DPM-Solver++(2M) at NFE 5 and 10 (K = 10 teacher steps per
-- student step) on noise from one seed, then samples base and D from fresh noise and scores them
-- two ways: RMSE against a fine DDIM reference from the same noise (250 steps by default, 2.5×
-- finer than the finest teacher; 50 with --quick) and the Fréchet distance of
-- Fashion-classifier features (Models/fashion_classifier) to real test images. Writes
-- results.csv/json, the fits, and PNG grids of base, D and reference samples into --out.
-- Under 3 minutes on 2 cores at the defaults.
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local Progress = require 'dode.progress'
local P = require 'dode.protocols'

local opts = cmdline{
  description = 'D-ODE on the Fashion-MNIST U-Net: base vs D at NFE 5 and 10',
  { 'n_fit', 256, 'samples the coefficients are fitted on' },
  { 'n_eval', 500, 'held-out samples the solvers are scored on' },
  { 'k', 10, 'teacher refinement factor K' },
  { 'ref_steps', 250, 'DDIM steps of the reference' },
  { 'n_real', 10000, 'real test images for the Fréchet distance' },
  { 'clip', 0, 'clamp x0 predictions to [-clip, clip] (0: off, the plain probability-flow ODE)' },
}
if opts.quick then opts.n_fit, opts.n_eval, opts.n_real, opts.ref_steps = 16, 32, 500, 50 end
cmdline.mkdir(opts.out)
print('dode ' .. dode.version .. ' fashion_unet: ' .. cmdline.describe(opts))

local prob = P.fashion{ steps = opts.ref_steps, clip = opts.clip > 0 and opts.clip or nil }
print(prob.denoiser)
local real = dode.data.fashion{ split = 'test', n = opts.n_real }
local real_feats = dode.features.fashion(real)
local half = opts.n_real // 2
local floor_fd = dode.metrics.frechet(real_feats:narrow(1, 1, half), real_feats:narrow(1, half + 1, half))

local configs = {
  { name = 'ddim', label = 'DDIM', make = function() return dode.solver.ddim() end },
  { name = 'dpmpp2m', label = 'DPM-Solver++(2M)', make = function() return dode.solver.dpmpp{ order = 2 } end },
}
local nfes = { 5, 10 }
local tb = Table.new{
  columns = { 'solver', 'nfe', 'rmse_base', 'rmse_d', 'gain', 'frechet_base', 'frechet_d', 'seconds_fit' },
  formats = { rmse_base = '%.4f', rmse_d = '%.4f', gain = '%+.1f%%', frechet_base = '%.2f', frechet_d = '%.2f',
    seconds_fit = '%.1f' },
}

local xfit = dode.randn(dode.Generator(1), opts.n_fit, prob.dim)
local xeval = dode.randn(dode.Generator(2), opts.n_eval, prob.dim)
local t0 = dode.clock()
local ref = prob.reference(xeval, nil)
print(string.format('reference: DDIM with %d steps for %d samples in %.1f s', opts.ref_steps, opts.n_eval,
  dode.clock() - t0))
local function frechet(x) return dode.metrics.frechet(dode.features.fashion(x:clamp(-1, 1)), real_feats) end
local show = math.min(64, opts.n_eval)
dode.image.grid(ref:narrow(1, 1, show),
  { path = opts.out .. '/fashion_reference.png', height = 32, width = 32, scale = 2 })

-- DDIM and DPM-Solver++(2M) land at the same points of a grid, so their fits share one teacher
-- pass per grid (the same targets a fit would compute itself: the same coefficients).
local targets, teacher_seconds = {}, {}
local bar = Progress.new{ total = #configs * #nfes, label = 'fit + sample', unit = 'runs' }
for _, c in ipairs(configs) do
  for _, nfe in ipairs(nfes) do
    local grid = dode.grid.discrete(prob.schedule, nfe, { spacing = 'trailing' })
    local solver = c.make()
    if not targets[nfe] then
      local t0 = dode.clock()
      targets[nfe] = dode.distill.targets{ solver = solver, denoiser = prob.denoiser, x = xfit, grid = grid,
        k = opts.k }
      teacher_seconds[nfe] = dode.clock() - t0
    end
    local t1 = dode.clock()
    local fit = dode.distill.fit{ solver = solver, denoiser = prob.denoiser, x = xfit, grid = grid, k = opts.k,
      seed = 1, targets = targets[nfe] }
    local tfit = dode.clock() - t1
    fit:save(string.format('%s/fit_%s_%d.json', opts.out, c.name, nfe))
    local base = solver:sample(prob.denoiser, xeval, grid)
    local dvar = fit:solver(solver):sample(prob.denoiser, xeval, grid)
    local rb, rd = dode.metrics.rmse(base, ref), dode.metrics.rmse(dvar, ref)
    tb:add{ solver = c.label, nfe = solver:plan(grid).nfe, rmse_base = rb, rmse_d = rd, gain = 100 * (rb - rd) / rb,
      frechet_base = frechet(base), frechet_d = frechet(dvar), seconds_fit = tfit }
    for _, v in ipairs{ { 'base', base }, { 'd', dvar } } do
      dode.image.grid(v[2]:narrow(1, 1, show),
        { path = string.format('%s/fashion_%s_nfe%d_%s.png', opts.out, c.name, nfe, v[1]),
          height = 32, width = 32, scale = 2 })
    end
    bar:advance(1)
  end
end
bar:finish()

print()
print(tb)
print(string.format('Fréchet floor (two halves of %d real test images): %.2f; reference samples: %.2f',
  opts.n_real, floor_fd, frechet(ref)))
print(string.format('teacher passes (K = %d, shared by both solvers; not in seconds_fit): NFE 5 %.1f s, NFE 10 %.1f s',
  opts.k, teacher_seconds[5], teacher_seconds[10]))
tb:save_csv(opts.out .. '/results.csv')
tb:save_json(opts.out .. '/results.json')
print('wrote ' .. opts.out .. '/results.csv, results.json, fit_*.json and fashion_*.png')
