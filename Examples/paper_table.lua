-- The paper-style table: solver × NFE × {base, D} on the mixture problems, error against the
-- exact probability-flow solve, fitted on one seed and scored on fresh noise from another.
--
--   Scripts/dode Examples/paper_table.lua [--problems ring6_2d,blobs32d,digits] [--solvers ddim,dpmpp2m,...]
--                                         [--nfes 3,4,5,6,8,10,15,20 | --steps 3,4,5,6,8,10] [--n 1024]
--                                         [--k 10] [--quick]
--
-- 'digits' is the built-in network, scored against DDIM on grid:refine(100).
local cmdline = require 'dode.cmdline'
local plot = require 'dode.plot'
local Progress = require 'dode.progress'
local P = require 'dode.protocols'
local opts = cmdline{
  description = 'solver x NFE x {base, D} on the mixtures (held-out RMSE vs the exact solve)',
  { 'problems', 'ring6_2d,blobs32d', 'comma-separated mixture names' },
  { 'solvers', 'ddim,euler,heun,ipndm,deis,dpm2m,dpmpp2m,dpmpp3m,unipc2,unipc3,pndm',
    'comma-separated solver names (see dode.protocols.solvers)' },
  { 'nfes', '3,4,5,6,8,10,15,20', 'comma-separated NFE budgets' },
  { 'steps', '', 'comma-separated step counts N instead of NFE budgets (e.g. 3,4,5,6,8,10)' },
  { 'n', 1024, 'samples for fitting and for scoring (each)' },
  { 'k', 10, 'teacher refinement K' },
}
local function list(s, conv)
  local out = {}
  for w in tostring(s):gmatch('[^,%s]+') do out[#out + 1] = conv and conv(w) or w end
  return out
end
local problems, solvers, nfes = list(opts.problems), list(opts.solvers), list(opts.nfes, tonumber)
local steps = opts.steps ~= '' and list(opts.steps, tonumber) or nil
if opts.quick then
  problems, solvers, nfes, steps, opts.n = { 'ring6_2d' }, { 'ddim', 'dpmpp2m' }, { 3, 5 }, nil, 128
end
cmdline.mkdir(opts.out)

local all
for _, name in ipairs(problems) do
  local bar = Progress.new{ total = #solvers * #(steps or nfes), label = name, unit = 'fits' }
  local problem = name == 'digits' and P.digits() or P.mixture(name)
  local tb = P.heldout{ problem = problem, solvers = solvers, nfes = not steps and nfes or nil, steps = steps,
    k = opts.k, n_fit = opts.n, n_eval = opts.n, progress = function() bar:advance(1) end }
  bar:finish()
  print(tb)
  tb:save_csv(opts.out .. '/paper_table_' .. name .. '.csv')
  local series = {}
  for _, s in ipairs(solvers) do
    local xs, yb, yd = {}, {}, {}
    for _, r in ipairs(tb:rows()) do
      if r.solver == s then xs[#xs + 1], yb[#yb + 1], yd[#yd + 1] = r.nfe, r.rmse_base, r.rmse_d end
    end
    series[#series + 1] = { name = s, group = s, x = xs, y = yb, marker = true }
    series[#series + 1] = { name = 'D-' .. s, group = s, x = xs, y = yd, marker = true, style = 'dashed' }
  end
  plot.line{ title = 'Held-out RMSE vs NFE (' .. name .. ')', xlabel = 'NFE', ylabel = 'RMSE vs exact solve',
    xlog = true, ylog = true, series = series, path = opts.out .. '/paper_table_' .. name .. '.svg' }
  local wins, cells = 0, 0
  for _, r in ipairs(tb:rows()) do cells = cells + 1; if r.rmse_d < r.rmse_base then wins = wins + 1 end end
  print(string.format('%s: D beats base in %d of %d cells', name, wins, cells))
end
print('options: ' .. cmdline.describe(opts))
print('wrote ' .. opts.out .. '/paper_table_*.csv and *.svg')
