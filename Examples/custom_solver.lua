-- Writing a solver in Lua, comparing it with the built-ins, and fitting its D-variant.
--
--   Scripts/dode Examples/custom_solver.lua [--quick]
--
-- A solver is a plan (which evaluations, where each update lands) and an update (the landing
-- state for the prediction ctx.D). Here: Ralston's second-order Runge–Kutta in the noise level s
-- on dy/ds = (y − D(y, s))/s, with y = x/alpha. Because update() is affine in ctx.D and reads
-- only ctx, dode can fit its D-variant like any built-in solver (it evaluates the update twice).
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local opts = cmdline{ description = 'a solver written in Lua and its D-variant', { 'n', 512, 'samples' } }
local n = opts.quick and 64 or math.floor(opts.n)

local function to_y(x, p) return x / p.alpha end
local function to_x(y, p) return y * p.alpha end
local function slope(y, D, p) return (y - D) / p.s end

local ralston = dode.solver.define{
  name = 'ralston2',
  history = 2,
  -- Two evaluations per step: at s_i, then at s_i + (2/3)·h; Euler into s = 0.
  plan = function(grid)
    local evs = {}
    for i = 1, #grid - 1 do
      local a, b = grid[i], grid[i + 1]
      if b.s == 0 then
        evs[#evs + 1] = { step = i, stage = 1, at = a, lands = b, order = 1 }
      else
        local m = grid:schedule():point{ s = a.s + (b.s - a.s) * 2 / 3 }
        evs[#evs + 1] = { step = i, stage = 1, at = a, lands = m, order = 2, final = false }
        evs[#evs + 1] = { step = i, stage = 2, at = m, lands = b, order = 2 }
      end
    end
    return evs
  end,
  update = function(ctx)
    if ctx.stage == 1 then       -- Euler to the stage point (or to s = 0)
      local y = to_y(ctx.x, ctx.at)
      return to_x(y + slope(y, ctx.D, ctx.at) * (ctx.lands.s - ctx.at.s), ctx.lands)
    end
    local p = ctx.prev[1]        -- the step's first evaluation
    local y0 = to_y(p.x, p.at)
    local h = ctx.lands.s - p.at.s
    local k1, k2 = slope(y0, p.D, p.at), slope(to_y(ctx.x, ctx.at), ctx.D, ctx.at)
    return to_x(y0 + (k1 * 0.25 + k2 * 0.75) * h, ctx.lands)
  end,
}

local vp = dode.schedule.vp{}
local den = dode.data.mixture('blobs32d', vp)
local xfit = dode.randn(dode.Generator(1), n, den:dim())
local xeval = dode.randn(dode.Generator(2), n, den:dim())
local first = dode.grid.discrete(vp, 1, { spacing = 'trailing' })
local exact = dode.reference.solve(den, xeval, first[1], first[#first], { rtol = 1e-10 })

local tb = Table.new{ columns = { 'solver', 'steps', 'nfe', 'rmse', 'rmse_D' },
  formats = { rmse = '%.4e', rmse_D = '%.4e' } }
for _, N in ipairs(opts.quick and { 3 } or { 3, 5, 8 }) do
  local grid = dode.grid.discrete(vp, N, { spacing = 'trailing' })
  print(ralston:plan(grid))
  for _, s in ipairs{ ralston, dode.solver.heun(), dode.solver.ddim(), require('dode.solvers').kutta3() } do
    local fit = dode.distill.fit{ solver = s, denoiser = den, x = xfit, grid = grid, k = 10 }
    local base = s:sample(den, xeval, grid)
    local d = fit:solver(s):sample(den, xeval, grid)
    tb:add{ solver = s:name(), steps = N, nfe = s:plan(grid).nfe, rmse = dode.metrics.rmse(base, exact),
      rmse_D = dode.metrics.rmse(d, exact) }
    if s == ralston and N == 3 then print(fit) end
  end
end
print(tb)
cmdline.mkdir(opts.out)
tb:save_csv(opts.out .. '/custom_solver.csv')
print('wrote ' .. opts.out .. '/custom_solver.csv')
