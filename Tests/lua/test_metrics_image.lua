-- Metrics against independent computations, PNG output decoded pixel by pixel, and bad input.
local T = require('dode.tester').new('metrics and images')

T:add('Fréchet distance of known Gaussians', function(t)
  -- 1-D: (mu1 - mu2)^2 + (s1 - s2)^2.
  t:close(dode.metrics.frechet_gaussian(dode.tensor{ 1 }, dode.tensor{ { 4 } }, dode.tensor{ 3 }, dode.tensor{ { 9 } }),
    4 + 1, 1e-12, '1-D closed form')
  -- Commuting (diagonal) covariances: sum of (sqrt(a_i) - sqrt(b_i))^2.
  local a, b = { 1, 4, 0.25 }, { 9, 1, 1 }
  local want = 0
  for i = 1, 3 do want = want + (math.sqrt(a[i]) - math.sqrt(b[i])) ^ 2 end
  local function diag(v) local m = dode.zeros(3, 3); for i = 1, 3 do m[i][i] = v[i] end; return m end
  t:close(dode.metrics.frechet_gaussian(dode.zeros(3), diag(a), dode.zeros(3), diag(b)), want, 1e-10,
    'diagonal closed form')
  -- Non-commuting 2x2: tr sqrt(S1 S2) from the eigenvalues of S1 S2 (independent formula).
  local S1, S2 = dode.tensor{ { 2, 0.5 }, { 0.5, 1 } }, dode.tensor{ { 1, -0.3 }, { -0.3, 3 } }
  local M = S1:mm(S2)
  local tr, det = M[1][1] + M[2][2], M[1][1] * M[2][2] - M[1][2] * M[2][1]
  local disc = math.sqrt(tr * tr / 4 - det)
  local l1, l2 = tr / 2 + disc, tr / 2 - disc
  local want2 = (2 + 1) + (1 + 3) - 2 * (math.sqrt(l1) + math.sqrt(l2))
  t:close(dode.metrics.frechet_gaussian(dode.zeros(2), S1, dode.zeros(2), S2), want2, 1e-10, 'non-commuting 2x2')
  -- From samples: two large sets from the same Gaussian are close to 0, and the distance is symmetric.
  local x, y = dode.randn(dode.Generator(1), 20000, 4), dode.randn(dode.Generator(2), 20000, 4)
  t:ok(dode.metrics.frechet(x, y) < 0.01, 'same distribution: near 0')
  t:close(dode.metrics.frechet(x, y * 2), dode.metrics.frechet(y * 2, x), 1e-9, 'symmetric')
end)

T:add('MMD of identical distributions is within its standard error of 0; SWD is symmetric', function(t)
  local reps, vals = 8, {}
  for r = 1, reps do
    local a = dode.randn(dode.Generator(10 + r), 300, 3)
    local b = dode.randn(dode.Generator(100 + r), 300, 3)
    vals[r] = dode.metrics.mmd(a, b)
  end
  local mean, var = 0, 0
  for _, v in ipairs(vals) do mean = mean + v / reps end
  for _, v in ipairs(vals) do var = var + (v - mean) ^ 2 / (reps - 1) end
  local se = math.sqrt(var / reps)
  t:ok(math.abs(mean) < 3 * se + 1e-12, string.format('mean MMD² %.2e within 3 standard errors (%.2e)', mean, se))
  local shifted = dode.metrics.mmd(dode.randn(dode.Generator(1), 300, 3), dode.randn(dode.Generator(2), 300, 3) + 1)
  t:ok(shifted > 10 * (math.abs(mean) + 3 * se), 'a shifted set is far away')
  local a, b = dode.randn(dode.Generator(3), 500, 2), dode.randn(dode.Generator(4), 400, 2) * 1.5
  t:close(dode.metrics.swd(a, b, { gen = dode.Generator(9) }), dode.metrics.swd(b, a, { gen = dode.Generator(9) }),
    1e-12, 'SWD symmetric')
  -- 1-D shift by c: SWD over random unit directions of a shifted isotropic set, E[(c·u)^2] = c^2/d.
  local c = dode.randn(dode.Generator(5), 4000, 2)
  t:close(dode.metrics.swd(c, c + dode.tensor{ { 1, 0 } }, { gen = dode.Generator(1), projections = 2000 }),
    math.sqrt(0.5), 0.03, 'SWD of a shift')
end)

T:add('RMSE, per-sample errors, mode mismatch and NLL', function(t)
  local a, b = dode.tensor{ { 0, 0 }, { 3, 4 } }, dode.tensor{ { 0, 0 }, { 0, 0 } }
  t:close(dode.metrics.rmse(a, b), math.sqrt(25 / 4), 1e-15, 'rmse')
  t:close(dode.metrics.median_error(a, b), (0 + math.sqrt(12.5)) / 2, 1e-15, 'median of per-sample RMS')
  local vp = dode.schedule.vp{}
  local den = dode.data.mixture('ring6_2d', vp)
  local x0 = den:sample(dode.Generator(1), 200)
  t:eq(dode.metrics.mode_mismatch(den, x0, x0), 0, 'no mismatch with itself')
  local nll = dode.metrics.nll(den, x0)
  t:ok(nll > -5 and nll < 5, 'finite NLL of true samples')
end)

T:add('PNG grids decode to the expected pixels', function(t)
  local dir = os.tmpname(); os.remove(dir); os.execute('mkdir -p ' .. dir)
  -- Two 2x2 images: one black, one white-ish with a known pattern.
  local x = dode.tensor{ { -1, -1, -1, -1 }, { 1, -1, 0, 1 } }
  local grid = dode.image.grid(x, { path = dir .. '/g.png', height = 2, width = 2, columns = 2, scale = 3, pad = 1 })
  local w, h = grid.width, grid.height
  t:eq(w, 2 * 6 + 3, 'width'); t:eq(h, 6 + 2, 'height')
  local img = dode.image.read(dir .. '/g.png')
  t:eq(img:size(1), h, 'decoded height'); t:eq(img:size(2), w, 'decoded width')
  t:eq(img[1][1], 128, 'padding is grey')
  t:eq(img[2][2], 0, 'first image is black')
  t:eq(img[2][2 + 6 + 1], 255, 'second image top-left is white')
  t:eq(img[2][2 + 6 + 1 + 3], 0, 'second image top-right is black')
  t:eq(img[2 + 3][2 + 6 + 1], 128, 'value 0 maps to 128 (rounded)')
  t:raises(function() dode.image.read(dir .. '/missing.png') end, { 'dode.image.read', 'missing.png' })
  local f = io.open(dir .. '/bad.png', 'wb'); f:write('\137PNG\r\n\26\nxxxx'); f:close()
  t:raises(function() dode.image.read(dir .. '/bad.png') end, { 'bad.png' })
  os.execute('rm -rf ' .. dir)
end)

T:add('bad input to metrics', function(t)
  local a = dode.randn(dode.Generator(1), 10, 3)
  t:raises(function() dode.metrics.rmse(a, dode.zeros(10, 4)) end,
    { 'dode.metrics.rmse', 'shapes 10x3 and 10x4 differ' })
  t:raises(function() dode.metrics.frechet(a, dode.zeros(10, 4)) end, { 'dode.metrics.frechet', 'features' })
  t:raises(function() dode.metrics.mmd(dode.zeros(0, 3), a) end, { 'dode.metrics.mmd', 'non-empty' })
  local n = a:clone(); n[1][1] = 0 / 0
  t:raises(function() dode.metrics.swd(n, a, { gen = dode.Generator(1) }) end, { 'dode.metrics.swd', 'NaN' })
  t:raises(function() dode.metrics.frechet(n, a) end, { 'NaN' })
  t:raises(function() dode.features.digits(dode.zeros(3, 5)) end, { 'dode.features.digits', 'N×64' })
end)

T:add('digits features and the Fréchet floor', function(t)
  local real = dode.data.digits()
  local f = dode.features.digits(real)
  t:eq(f:size(2), 64, '64 features')
  local floor = dode.metrics.frechet(f:narrow(1, 1, 898), f:narrow(1, 899, 898))
  local noise = dode.metrics.frechet(dode.features.digits(dode.randn(dode.Generator(1), 898, 64):clamp(-1, 1)),
    f:narrow(1, 1, 898))
  t:ok(floor < 20, string.format('floor %.2f is small', floor))
  t:ok(noise > 10 * floor, string.format('noise (%.1f) is far above the floor (%.2f)', noise, floor))
  local logits = dode.features.digits_logits(real:narrow(1, 1, 100))
  local _, labels = dode.data.digits()
  local pred, hit = logits:argmax(2), 0
  for i = 1, 100 do if pred[i] - 1 == labels[i] then hit = hit + 1 end end
  t:ok(hit >= 95, 'classifier accuracy on real digits: ' .. hit .. '%')
end)

T:run()
