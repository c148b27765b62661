-- Classifier-free guidance on a class-conditional mixture, with and without D-ODE.
--
--   Scripts/dode Examples/guidance.lua [--quick]
--
-- A 2-D mixture of 6 components in 3 classes; dode.denoiser.cfg(den, w, {cond = c}) gives the
-- guided denoiser D_u + w(D_c − D_u), itself a denoiser, so solvers, the exact reference solve
-- and D-ODE apply unchanged. For w = 1..8 we fit D-DDIM and D-DPM-Solver++(2M) at 5 steps on one
-- seed and report RMSE against the exact guided solve on another.
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local plot = require 'dode.plot'
local opts = cmdline{ description = 'classifier-free guidance with and without D-ODE',
  { 'steps', 5, 'solver steps' }, { 'n', 512, 'samples' } }
local n = opts.quick and 64 or math.floor(opts.n)
cmdline.mkdir(opts.out)

local vp = dode.schedule.vp{}
local means, stds, labels, weights = {}, {}, {}, {}
for i = 1, 6 do
  local a = 2 * math.pi * (i - 1) / 6
  means[i], stds[i], labels[i], weights[i] = { 1.5 * math.cos(a), 1.5 * math.sin(a) }, { 0.15, 0.15 }, (i - 1) % 3, 1
end
local den = dode.denoiser.gmm{ weights = weights, means = means, stds = stds, labels = labels, schedule = vp,
  name = 'ring6 in 3 classes' }
local grid = dode.grid.discrete(vp, math.floor(opts.steps), { spacing = 'trailing' })
local xfit, xeval = dode.randn(dode.Generator(1), n, 2), dode.randn(dode.Generator(2), n, 2)

local tb = Table.new{ columns = { 'w', 'solver', 'rmse_base', 'rmse_d', 'class_hit' },
  formats = { rmse_base = '%.4e', rmse_d = '%.4e', class_hit = '%.3f' } }
local scales = opts.quick and { 1, 4 } or { 1, 2, 3, 4, 6, 8 }
local shown
for _, w in ipairs(scales) do
  local g = dode.denoiser.cfg(den, w, { cond = 0 })
  local exact = dode.reference.solve(g, xeval, grid[1], grid[#grid], { rtol = 1e-9 })
  for _, s in ipairs{ dode.solver.ddim(), dode.solver.dpmpp{ order = 2 } } do
    local fit = dode.distill.fit{ solver = s, denoiser = g, x = xfit, grid = grid, k = 10 }
    local base, dv = s:sample(g, xeval, grid), fit:solver():sample(g, xeval, grid)
    -- Fraction of D-ODE samples whose nearest component has class 0.
    local comp = den:component(dv)
    local hit = 0
    for i = 1, n do if (comp[i] - 1) % 3 == 0 then hit = hit + 1 end end
    tb:add{ w = w, solver = s:name(), rmse_base = dode.metrics.rmse(base, exact),
      rmse_d = dode.metrics.rmse(dv, exact), class_hit = hit / n }
    if w == scales[#scales] and s:name() == 'ddim' then shown = { base = base, d = dv, exact = exact } end
  end
end
print(tb)
tb:save_csv(opts.out .. '/guidance.csv')
plot.scatter{ title = string.format('guided samples, w = %g, %d steps', scales[#scales], opts.steps),
  path = opts.out .. '/guidance.svg',
  series = { { name = 'exact', points = shown.exact }, { name = 'DDIM', points = shown.base },
    { name = 'D-DDIM', points = shown.d } } }
print('wrote ' .. opts.out .. '/guidance.csv and guidance.svg')
