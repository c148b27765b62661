--- dode.protocols: evaluation protocols for samplers and D-ODE, as researchers run them.
--
--   local P = require 'dode.protocols'
--   local prob = P.mixture('ring6_2d')                 -- or P.digits()
--   local rows = P.heldout{ problem = prob, solvers = {'ddim', 'dpmpp2m'}, nfes = {5, 10} }
--
-- Held-out protocol (docs/method.md §7.4; the reference code's defects in §5.10): λ is fitted on noise
-- from one generator seed and every number is measured on fresh noise from another, against a
-- reference from the same noise — the exact probability-flow solve for mixtures, or DDIM on
-- grid:refine(100) for networks. Base and D-variant side by side.
local dode = require 'dode'
local help = require 'dode.help'
local Table = require 'dode.table'
local M = {}

--- Named solver configurations: a built-in solver and its options (dode.solver.list() has
-- every solver and option). M.solvers[name]() builds one.
M.configs = {
  ddim = { 'ddim' }, euler = { 'euler' }, heun = { 'heun' }, dpm2 = { 'dpm2' }, lms = { 'lms' }, pndm = { 'pndm' },
  ipndm = { 'ipndm' }, deis = { 'deis', { order = 2 } }, deis3 = { 'deis', { order = 3 } },
  dpm2m = { 'dpm', { order = 2 } }, dpmpp2m = { 'dpmpp', { order = 2 } }, dpmpp3m = { 'dpmpp', { order = 3 } },
  dpmpp2s = { 'dpmpp', { order = 2, method = 'singlestep' } },
  unipc2 = { 'unipc', { order = 2 } }, unipc3 = { 'unipc', { order = 3 } },
}
M.solvers = {}
for name, c in pairs(M.configs) do M.solvers[name] = function() return dode.solver.make(c[1], c[2]) end end

--- The number of steps N whose plan on `schedule` (diffusers' trailing DDIM grid) uses the most
-- evaluations within an NFE budget, at least 1 — asked of the solver's own plan, so Heun's
-- 2N − 1, PNDM's N + 1 and singlestep solvers' evaluations per step all come out right.
function M.steps_for(solver, nfe, schedule)
  schedule = schedule or dode.schedule.vp{}
  local best = 1
  for n = 1, nfe do
    if solver:plan(dode.grid.discrete(schedule, n, { spacing = 'trailing' })).nfe <= nfe then best = n end
  end
  return best
end

--- A reference function(x) for the network problems: one DDIM run from the noise x over
-- opts.steps grid points (default 1000: every training label; trailing spacing, to s = 0),
-- cached per x and shared by every grid with the same end points.
local function shared_reference(ddim, den, vp, opts)
  local cache = setmetatable({}, { __mode = 'k' })
  return function(x)
    if not cache[x] then
      cache[x] = ddim:sample(den, x, dode.grid.discrete(vp, opts.steps or 1000, { spacing = 'trailing' }))
    end
    return cache[x]
  end
end

--- A mixture problem: DDPM linear VP schedule, exact denoiser, exact reference solves.
function M.mixture(name, opts)
  opts = opts or {}
  local vp = opts.schedule or dode.schedule.vp{}
  local den = opts.file and dode.denoiser.gmm{ file = opts.file, schedule = vp } or dode.data.mixture(name, vp)
  return {
    name = name, kind = 'mixture', schedule = vp, denoiser = den, dim = den:dim(),
    reference = function(x, grid)
      return (dode.reference.solve(den, x, grid[1], grid[#grid], { rtol = opts.rtol or 1e-9 }))
    end,
  }
end

--- The built-in digits model. The reference is DDIM on grid:refine(refine) (default 100), or
-- with `shared = true` one DDIM run over all 1000 training labels (trailing spacing, to s = 0),
-- reused for every grid with the same end points — equal to grid:refine(1000/N) for trailing
-- grids whose N divides 1000, and much cheaper when many grids are compared.
function M.digits(opts)
  opts = opts or {}
  local den = dode.models.digits()
  local vp = den:schedule()
  local ddim = dode.solver.ddim()
  local shared = shared_reference(ddim, den, vp, opts)
  return {
    name = 'digits', kind = 'network', schedule = vp, denoiser = den, dim = 64,
    reference = function(x, grid)
      if not opts.shared then return ddim:sample(den, x, grid:refine(opts.refine or 100)) end
      return shared(x)
    end,
  }
end

--- The built-in Fashion-MNIST U-Net (1×32×32 images, flattened to 1024 values per sample). The
-- reference is one DDIM run over `steps` grid points (default 1000: every training label;
-- trailing spacing, to s = 0) from the same noise, shared by every grid. `clip` clamps the
-- x0 predictions (off by default: the plain probability-flow ODE).
function M.fashion(opts)
  opts = opts or {}
  local vp = dode.schedule.vp()
  local den = opts.clip
    and dode.denoiser.unet{ path = dode.models.path('fashion_unet'), schedule = vp, clip = opts.clip }
    or dode.models.fashion{ schedule = vp }
  local shared = shared_reference(dode.solver.ddim(), den, vp, opts)
  return {
    name = 'fashion', kind = 'network', schedule = vp, denoiser = den, dim = 1024,
    reference = function(x, grid) return shared(x) end,
  }
end

--- Runs the held-out comparison. Options: problem, solvers (names of M.solvers, or
-- {name =, make = function() ... end}), nfes or steps, k = 10, n_fit = 1024, n_eval = 1024,
-- fit_seed = 1, eval_seed = 2, spacing = 'trailing', fit = {extra options of dode.distill.fit},
-- progress (a function(text)). Returns a dode.table with one row per (solver, N).
function M.heldout(o)
  assert(type(o) == 'table' and o.problem, 'dode.protocols.heldout: needs {problem = ...}')
  local prob = o.problem
  local k = o.k or 10
  local n_fit, n_eval = o.n_fit or 1024, o.n_eval or 1024
  local xfit = dode.randn(dode.Generator(o.fit_seed or 1), n_fit, prob.dim)
  local xeval = dode.randn(dode.Generator(o.eval_seed or 2), n_eval, prob.dim)
  local tb = Table.new{
    columns = { 'problem', 'solver', 'steps', 'nfe', 'rmse_base', 'rmse_d', 'gain', 'median_base', 'median_d',
      'seconds_fit' },
    formats = { rmse_base = '%.4e', rmse_d = '%.4e', gain = '%+.1f%%', median_base = '%.3e', median_d = '%.3e',
      seconds_fit = '%.2f' },
  }
  local refs = {}
  local function reference(grid)
    -- Cached per grid (mixtures: one exact solve serves every grid with the same end points).
    local key = prob.kind == 'mixture' and 'exact' or tostring(grid)
    if not refs[key] then refs[key] = prob.reference(xeval, grid) end
    return refs[key]
  end
  for _, s in ipairs(o.solvers) do
    local name = type(s) == 'table' and s.name or s
    local make = type(s) == 'table' and s.make or M.solvers[name]
    if not make then error('dode.protocols.heldout: unknown solver ' .. tostring(name), 2) end
    for _, budget in ipairs(o.nfes or o.steps) do
      local solver = make()
      local steps = o.nfes and M.steps_for(solver, budget, prob.schedule) or budget
      local grid = dode.grid.discrete(prob.schedule, steps, { spacing = o.spacing or 'trailing' })
      local t0 = dode.clock()
      local fitopts = { solver = solver, denoiser = prob.denoiser, x = xfit, grid = grid, k = k,
        seed = o.fit_seed or 1 }
      for key, v in pairs(o.fit or {}) do fitopts[key] = v end
      local fit = dode.distill.fit(fitopts)
      local tfit = dode.clock() - t0
      local ref = reference(grid)
      local base = solver:sample(prob.denoiser, xeval, grid)
      local dvar = fit:solver(solver):sample(prob.denoiser, xeval, grid)
      local rb, rd = dode.metrics.rmse(base, ref), dode.metrics.rmse(dvar, ref)
      tb:add{ problem = prob.name, solver = name, steps = steps, nfe = solver:plan(grid).nfe,
        rmse_base = rb, rmse_d = rd, gain = 100 * (rb - rd) / rb, median_base = dode.metrics.median_error(base, ref),
        median_d = dode.metrics.median_error(dvar, ref), seconds_fit = tfit }
      if o.progress then o.progress(string.format('%s %s N=%d: base %.4e, D %.4e', prob.name, name, steps, rb, rd)) end
    end
  end
  return tb
end

help.register(M.heldout, 'dode.protocols.heldout',
  'require("dode.protocols").heldout{problem =, solvers =, nfes = | steps =, k = 10, n_fit = 1024, n_eval = 1024, '
  .. 'fit_seed = 1, eval_seed = 2}',
  'Fits D-ODE on one seed and compares base vs D on fresh noise from another, against the exact solve (mixtures) '
  .. 'or a fine DDIM (networks). Returns a dode.table.')
help.register(M.mixture, 'dode.protocols.mixture',
  'require("dode.protocols").mixture(name [, {schedule =, file =, rtol =}])',
  'A mixture problem with an exact reference.')
help.register(M.fashion, 'dode.protocols.fashion',
  'require("dode.protocols").fashion([{steps = 1000, clip = nil}])',
  'The built-in Fashion-MNIST U-Net with a shared fine DDIM reference over `steps` grid points; '
  .. 'clip clamps x0 predictions.')
help.register(M.digits, 'dode.protocols.digits',
  'require("dode.protocols").digits([{refine = 100, shared = false, steps = 1000}])',
  'The built-in digits model with a fine DDIM reference (per grid, or shared over all training labels).')

return M
