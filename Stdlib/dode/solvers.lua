--- dode.solvers: solvers written in Lua, usable everywhere a built-in one is (sample, plan,
-- start, D-ODE fitting). They double as worked examples of dode.solver.define.
--
--   local kutta3 = require('dode.solvers').kutta3()
--   local x0 = kutta3:sample(den, xT, grid)
--
-- States cross the API in the schedule's space (x = alpha·y for VP schedules); these solvers
-- work in the scaled state y = x/alpha with noise level s, on dy/ds = (y − D(y, s))/s.
local dode = require 'dode'
local help = require 'dode.help'
local M = {}

--- y = x/alpha at point p, and back.
local function to_y(x, p) return x / p.alpha end
local function to_x(y, p) return y * p.alpha end
--- The slope dy/ds = (y − D)/s at point p.
local function slope(y, D, p) return (y - D) / p.s end
M.to_y, M.to_x, M.slope = to_y, to_x, slope

--- Kutta's third-order method in s: stages at s, s + h/2 and s + h (three evaluations per step,
-- the last two landing between and on grid points), weights (1, 4, 1)/6; the step into s = 0 is
-- Euler. update() is affine in ctx.D and reads only ctx, as dode.solver.define requires.
function M.kutta3()
  return dode.solver.define{
    name = 'kutta3',
    history = 3,
    plan = function(grid)
      local evs, sched = {}, grid:schedule()
      for i = 1, #grid - 1 do
        local a, b = grid[i], grid[i + 1]
        if b.s == 0 then
          evs[#evs + 1] = { step = i, stage = 1, at = a, lands = b, order = 1, final = true }
        else
          local mid = sched:point{ s = 0.5 * (a.s + b.s) }
          evs[#evs + 1] = { step = i, stage = 1, at = a, lands = mid, order = 3, final = false }
          evs[#evs + 1] = { step = i, stage = 2, at = mid, lands = b, order = 3, final = false }
          evs[#evs + 1] = { step = i, stage = 3, at = b, lands = b, order = 3, final = true }
        end
      end
      return evs
    end,
    update = function(ctx)
      local h = ctx.lands.s - ctx.at.s
      if ctx.stage == 1 then
        -- Euler to the stage's landing point (s + h/2, or s + h for the final step).
        local y = to_y(ctx.x, ctx.at)
        return to_x(y + slope(y, ctx.D, ctx.at) * h, ctx.lands)
      end
      if ctx.stage == 2 then
        local p1 = ctx.prev[1]
        local y0 = to_y(p1.x, p1.at)
        local H = ctx.lands.s - p1.at.s
        local k1 = slope(y0, p1.D, p1.at)
        local k2 = slope(to_y(ctx.x, ctx.at), ctx.D, ctx.at)
        return to_x(y0 - k1 * H + k2 * (2 * H), ctx.lands)
      end
      local p2, p1 = ctx.prev[2], ctx.prev[1]
      local y0 = to_y(p2.x, p2.at)
      local H = ctx.lands.s - p2.at.s
      local k1 = slope(y0, p2.D, p2.at)
      local k2 = slope(to_y(p1.x, p1.at), p1.D, p1.at)
      local k3 = slope(to_y(ctx.x, ctx.at), ctx.D, ctx.at)
      return to_x(y0 + (k1 + 4 * k2 + k3) * (H / 6), ctx.lands)
    end,
  }
end
help.register(M.kutta3, 'dode.solvers.kutta3', 'require("dode.solvers").kutta3()',
  "Kutta's third-order Runge–Kutta in s, written in Lua: 3 evaluations per step (Euler into s = 0).")

--- Adams–Bashforth of order 2 on the data prediction in exponential-integrator form:
-- y' = r·y + (1 − r)·(D_k + (D_k − D_{k−1})·h_k/(2h_{k−1})), r = s'/s (first order on the first
-- step and into s = 0). Algebraically DPM-Solver++(2M); a compact example of a multistep
-- solver in Lua.
function M.ab2()
  return dode.solver.define{
    name = 'ab2',
    history = 2,
    plan = function(grid)
      local orders = {}
      for i = 1, #grid - 1 do orders[i] = (i == 1 or grid[i + 1].s == 0) and 1 or 2 end
      return orders
    end,
    update = function(ctx)
      local r = ctx.lands.s / ctx.at.s
      local D = ctx.D
      if ctx.order == 2 then
        local p = ctx.prev[1]
        local h, h0 = ctx.lands.logsnr - ctx.at.logsnr, ctx.at.logsnr - p.at.logsnr
        D = D + (ctx.D - p.D) * (h / (2 * h0))
      end
      return to_x(to_y(ctx.x, ctx.at) * r + D * (1 - r), ctx.lands)
    end,
  }
end
help.register(M.ab2, 'dode.solvers.ab2', 'require("dode.solvers").ab2()',
  'Adams–Bashforth 2 on the data prediction (exponential form), written in Lua; equals DPM-Solver++(2M).')

return M
