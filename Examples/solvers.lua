-- Every solver against the exact probability-flow solution, at N = 3, 5, 10, 20 steps.
--
--   Scripts/dode Examples/solvers.lua [--problem ring6_2d] [--n 512] [--quick]
--
-- The reference is dode.reference.solve (adaptive Dormand–Prince, rtol 1e-10) from the same
-- noise; RMSE over every coordinate of every sample. Grids: diffusers' trailing spacing on the
-- DDPM linear schedule, ending at s = 0.
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local plot = require 'dode.plot'
local opts = cmdline{
  description = 'RMSE of every solver against the exact solve',
  { 'problem', 'blobs32d', 'mixture problem' },
  { 'n', 512, 'samples' },
}
local steps = opts.quick and { 3, 5 } or { 3, 5, 10, 20 }
local n = opts.quick and 64 or math.floor(opts.n)
cmdline.mkdir(opts.out)

local vp = dode.schedule.vp{}
local den = dode.data.mixture(opts.problem, vp)
local x = dode.randn(dode.Generator(0), n, den:dim())
local first = dode.grid.discrete(vp, 1, { spacing = 'trailing' })
local t0 = dode.clock()
local exact, st = dode.reference.solve(den, x, first[1], first[#first], { rtol = 1e-10 })
print(string.format('reference: %d accepted steps, %d evaluations, %.2f s', st.steps, st.evaluations,
  dode.clock() - t0))

local solvers = {
  { 'ddim', dode.solver.ddim() }, { 'euler', dode.solver.euler() }, { 'heun', dode.solver.heun() },
  { 'dpm2', dode.solver.dpm2() }, { 'lms', dode.solver.lms() }, { 'pndm', dode.solver.pndm() },
  { 'ipndm', dode.solver.ipndm() }, { 'deis-2', dode.solver.deis{ order = 2 } },
  { 'deis-3', dode.solver.deis{ order = 3 } },
  { 'dpm-2M', dode.solver.dpm{ order = 2 } }, { 'dpm-3S', dode.solver.dpm{ order = 3, method = 'singlestep' } },
  { 'dpmpp-2M', dode.solver.dpmpp{ order = 2 } }, { 'dpmpp-3M', dode.solver.dpmpp{ order = 3 } },
  { 'dpmpp-2S', dode.solver.dpmpp{ order = 2, method = 'singlestep' } },
  { 'unipc-bh2-2', dode.solver.unipc{ order = 2 } }, { 'unipc-bh2-3', dode.solver.unipc{ order = 3 } },
  { 'unipc-bh1-3', dode.solver.unipc{ order = 3, variant = 'bh1' } },
}
local cols = { 'solver' }
for _, N in ipairs(steps) do cols[#cols + 1] = 'N=' .. N; cols[#cols + 1] = 'nfe' .. N end
local fmts = {}
for _, N in ipairs(steps) do fmts['N=' .. N] = '%.3e' end
local tb = Table.new{ columns = cols, formats = fmts }
local series = {}
for _, s in ipairs(solvers) do
  local row, xs, ys = { solver = s[1] }, {}, {}
  for _, N in ipairs(steps) do
    local grid = dode.grid.discrete(vp, N, { spacing = 'trailing' })
    local out = s[2]:sample(den, x, grid)
    row['N=' .. N] = dode.metrics.rmse(out, exact)
    row['nfe' .. N] = s[2]:plan(grid).nfe
    xs[#xs + 1], ys[#ys + 1] = row['nfe' .. N], row['N=' .. N]
  end
  tb:add(row)
  series[#series + 1] = { name = s[1], x = xs, y = ys, marker = true }
end
print(tb)
tb:save_csv(opts.out .. '/solvers.csv')
plot.line{ title = 'RMSE vs NFE against the exact solve (' .. opts.problem .. ')', xlabel = 'NFE', ylabel = 'RMSE',
  xlog = true, ylog = true, series = series, path = opts.out .. '/solvers.svg' }
print('wrote ' .. opts.out .. '/solvers.csv and solvers.svg')
