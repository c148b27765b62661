-- dode quickstart: D-ODE on a real denoiser, with numbers and pictures.
--
--   Scripts/dode Examples/quickstart.lua [--quick] [--out DIR] [--n_eval 1024]
--
-- On the built-in digits model (an ε-prediction MLP trained on the UCI 8x8 digits) and on a
-- Gaussian-mixture problem with an exact denoiser, fit the D-variants of DDIM and
-- DPM-Solver++(2M) at 5 and 10 steps and of Heun at 3 and 5 steps (NFE 5 and 9), K = 10, on
-- noise from one seed; then compare base and D on fresh noise from another seed against a
-- reference from the same noise (exact probability-flow solve for the mixture, DDIM on a 100×
-- finer grid for the digits: every one of its 1000 training labels), plus the Fréchet
-- distance of digit features. Writes the table (CSV and JSON), an error-vs-NFE chart (SVG)
-- and sample grids base vs D (PNG) into --out.
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local plot = require 'dode.plot'
local Progress = require 'dode.progress'
local P = require 'dode.protocols'

local opts = cmdline{
  description = 'D-ODE distillation on the digits model and a mixture: base vs D on held-out noise',
  { 'n_fit', 1024, 'samples the coefficients are fitted on' },
  { 'n_eval', 1024, 'held-out samples the solvers are scored on' },
  { 'k', 10, 'teacher refinement factor K' },
  { 'mixture', 'blobs32d', 'mixture problem (Data/mixtures/<name>.json)' },
}
if opts.quick then opts.n_fit, opts.n_eval = 128, 128 end
cmdline.mkdir(opts.out)
print('dode ' .. dode.version .. ' quickstart: ' .. cmdline.describe(opts))

local configs = {
  { name = 'ddim', label = 'DDIM', steps = { 5, 10 } },
  { name = 'dpmpp2m', label = 'DPM-Solver++(2M)', steps = { 5, 10 } },
  { name = 'heun', label = 'Heun', steps = { 3, 5 } },
}
-- Digits reference: one DDIM run over all 1000 training labels from the held-out noise (for
-- these trailing grids, exactly DDIM on grid:refine(1000/N)); --quick uses 100 labels.
local problems = { P.digits{ shared = true, steps = opts.quick and 100 or 1000 }, P.mixture(opts.mixture) }

local tb = Table.new{
  columns = { 'problem', 'solver', 'steps', 'nfe', 'rmse_base', 'rmse_d', 'gain', 'frechet_base', 'frechet_d' },
  formats = { rmse_base = '%.4e', rmse_d = '%.4e', gain = '%+.1f%%', frechet_base = '%.3f', frechet_d = '%.3f' },
}

-- Real digits' features for Fréchet distances, and the floor (two halves of the real data).
local real = dode.data.digits()
local real_feats = dode.features.digits(real)
local floor_fd = dode.metrics.frechet(real_feats:narrow(1, 1, 898), real_feats:narrow(1, 899, 898))

local total = 0
for _, c in ipairs(configs) do total = total + #c.steps * #problems end
local bar = Progress.new{ total = total, label = 'fit + evaluate', unit = 'runs' }
local grids_png = {}
for _, prob in ipairs(problems) do
  local xfit = dode.randn(dode.Generator(1), opts.n_fit, prob.dim)
  local xeval = dode.randn(dode.Generator(2), opts.n_eval, prob.dim)
  for _, c in ipairs(configs) do
    for _, steps in ipairs(c.steps) do
      local grid = dode.grid.discrete(prob.schedule, steps, { spacing = 'trailing' })
      local solver = P.solvers[c.name]()
      local fit = dode.distill.fit{ solver = solver, denoiser = prob.denoiser, x = xfit, grid = grid, k = opts.k,
        seed = 1 }
      fit:save(string.format('%s/fit_%s_%s_%d.json', opts.out, prob.name, c.name, steps))
      local ref = prob.reference(xeval, grid)
      local base = solver:sample(prob.denoiser, xeval, grid)
      local dvar = fit:solver():sample(prob.denoiser, xeval, grid)
      local rb, rd = dode.metrics.rmse(base, ref), dode.metrics.rmse(dvar, ref)
      local row = { problem = prob.name, solver = c.label, steps = steps, nfe = solver:plan(grid).nfe,
        rmse_base = rb, rmse_d = rd, gain = 100 * (rb - rd) / rb }
      if prob.name == 'digits' then
        row.frechet_base = dode.metrics.frechet(dode.features.digits(base:clamp(-1, 1)), real_feats)
        row.frechet_d = dode.metrics.frechet(dode.features.digits(dvar:clamp(-1, 1)), real_feats)
        if steps == c.steps[1] then
          local n = math.min(64, opts.n_eval)
          for _, v in ipairs{ { 'base', base }, { 'd', dvar }, { 'reference', ref } } do
            local path = string.format('%s/digits_%s_%d_%s.png', opts.out, c.name, steps, v[1])
            dode.image.grid(v[2]:narrow(1, 1, n), { path = path, scale = 4 })
            grids_png[#grids_png + 1] = path
          end
        end
      end
      tb:add(row)
      bar:advance(1)
    end
  end
end
bar:finish()

print()
print(tb)
print(string.format('Fréchet floor (two halves of the real digits): %.3f', floor_fd))
tb:save_csv(opts.out .. '/results.csv')
tb:save_json(opts.out .. '/results.json')

-- Error against NFE, base (solid) and D (dashed) per solver, one chart per problem.
for _, prob in ipairs(problems) do
  local series = {}
  for _, c in ipairs(configs) do
    local xs, yb, yd = {}, {}, {}
    for _, r in ipairs(tb:rows()) do
      if r.problem == prob.name and r.solver == c.label then
        xs[#xs + 1], yb[#yb + 1], yd[#yd + 1] = r.nfe, r.rmse_base, r.rmse_d
      end
    end
    series[#series + 1] = { name = c.label, group = c.name, x = xs, y = yb, marker = true }
    series[#series + 1] = { name = 'D-' .. c.label, group = c.name, x = xs, y = yd, marker = true, style = 'dashed' }
  end
  plot.line{ title = 'Held-out RMSE vs the reference: ' .. prob.name, xlabel = 'NFE', ylabel = 'RMSE',
    xlog = true, ylog = true, series = series, path = opts.out .. '/rmse_vs_nfe_' .. prob.name .. '.svg' }
end
print('wrote ' .. opts.out .. '/results.csv, results.json, rmse_vs_nfe_*.svg, fit_*.json and ' .. #grids_png ..
  ' PNG grids')
