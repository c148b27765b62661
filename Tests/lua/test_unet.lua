-- The diffusers UNet2DModel binding from Lua: loading, conditioning, guidance, D-ODE on a U-Net,
-- the built-in Fashion model and classifier, and clear errors for bad folders and options.
local T = require('dode.tester').new('unet')
local root = dode.models.path():gsub('/Models$', '')
local fx = root .. '/Tests/Fixtures/unet/'
local vp = dode.schedule.vp()

T:add('a fixture through the denoiser interface equals its diffusers output', function(t)
  local den = dode.denoiser.unet{ path = fx .. 'legacy_attention', schedule = vp }
  t:ok(tostring(den):find('unet', 1, true) ~= nil, 'prints as a unet')
  local io = dode.load(fx .. 'legacy_attention/io.safetensors')
  -- Sample 1 was run at t = 999: D = (x − σ·ε)/α with diffusers' ε.
  local x = io.x:narrow(1, 1, 1):double()
  local p = vp:point{ t = 999 }
  local eps = io.out:narrow(1, 1, 1):double()
  local want = (x - eps * p.sigma) / p.alpha
  local got = den(x, p)
  t:close(got, want, 1e-4 * want:abs():max() / 1, 'D from the fixture output (1e-4 relative: Float32 network)')
  t:eq(got:dtype(), 'float64', 'Float64 in, Float64 out')
  t:eq(den(x:float(), p):dtype(), 'float32', 'Float32 in, Float32 out')
  local flat = den(x:reshape(1, 3 * 16 * 16), p)
  t:eq(flat:size(2), 768, 'a flat state keeps its shape')
end)

T:add('class labels, guidance and the clip / threshold options', function(t)
  local den = dode.denoiser.unet{ path = fx .. 'resnet_sampling_classes', schedule = vp }
  local x = dode.randn(dode.Generator(1), 2, 1, 8, 8)
  local p = vp:point{ t = 300 }
  local a, b = den(x, p, dode.tensor{ 1, 1 }), den(x, p, dode.tensor{ 3, 3 })
  t:ok((a - b):abs():max() > 1e-6, 'labels change the prediction')
  t:close(den(x, p, dode.tensor{ 1 }), a, 0, 'one label serves the batch')
  t:raises(function() return den(x, p) end, { 'class-conditional', 'cond' }, 'a conditional U-Net needs labels')
  t:raises(function() return den(x, p, dode.tensor{ 7, 7 }) end, { 'class label 7', '0..4' }, 'labels out of range')
  local g = dode.denoiser.cfg(den, 2, { cond = dode.tensor{ 1, 1 }, uncond = 0 })
  local u = den(x, p, dode.tensor{ 0, 0 })
  t:close(g(x, p), u + (a - u) * 2, 1e-12, 'guidance D_u + w (D_c - D_u)')
  local c = dode.denoiser.unet{ path = fx .. 'resnet_sampling_classes', schedule = vp, clip = 0.5 }
  t:ok(c(x, p, dode.tensor{ 1 }):abs():max() <= 0.5, 'clip bounds the prediction')
  local th = dode.denoiser.unet{ path = fx .. 'resnet_sampling_classes', schedule = vp, threshold = 0.9 }
  t:ok(th(x * 50, p, dode.tensor{ 1 }):abs():max() <= 1 + 1e-12, 'dynamic thresholding maps into [-1, 1]')
end)

T:add('D-ODE fits on a U-Net', function(t)
  local den = dode.denoiser.unet{ path = fx .. 'heads_scale_shift', schedule = vp }   -- v-prediction
  local x = dode.randn(dode.Generator(2), 6, 2 * 16 * 16)
  local grid = dode.grid.discrete(vp, 3, { spacing = 'trailing' })
  local fit = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = den, x = x, grid = grid, k = 2, seed = 1 }
  local out = fit:solver():sample(den, x, grid)
  t:ok(not out:has_nonfinite(), 'D-DDIM samples are finite')
  t:eq(#fit.lambdas, 3, 'one coefficient per evaluation')
end)

T:add('the built-in Fashion model, data and classifier', function(t)
  local den = dode.models.fashion()
  local x = dode.randn(dode.Generator(3), 4, 1024)
  local out = dode.solver.ddim():sample(den, x, dode.grid.discrete(den:schedule(), 5, { spacing = 'trailing' }))
  t:eq(out:size(2), 1024, 'samples keep the state shape')
  local real, labels = dode.data.fashion{ n = 200 }
  t:eq(real:size(1), 200, 'n images')
  t:eq(real:size(3), 32, 'padded to 32x32')
  t:close(real:min(), -1, 0, 'background is -1')
  local logits = dode.features.fashion_logits(real)
  local right = 0
  for i = 1, 200 do
    local best, arg = -math.huge, 0
    for j = 1, 10 do if logits[i][j] > best then best, arg = logits[i][j], j - 1 end end
    if arg == labels[i] then right = right + 1 end
  end
  t:ok(right / 200 > 0.8, string.format('the classifier is right on %d of 200 test images', right))
  t:eq(dode.features.fashion(real):size(2), 128, '128-D features')
end)

T:add('bad folders, schedules and options are clear errors', function(t)
  t:raises(function() return dode.denoiser.unet{ path = fx .. 'nope', schedule = vp } end,
    { 'dode.denoiser.unet', 'nope', 'config.json', 'test_unet.lua:' }, 'missing folder')
  t:raises(function() return dode.denoiser.unet{ path = fx .. 'legacy_attention' } end,
    { "option 'schedule'" }, 'no schedule')
  t:raises(function() return dode.denoiser.unet{ path = fx .. 'legacy_attention', schedule = dode.schedule.edm{} } end,
    { 'discrete VP schedule' }, 'an EDM schedule')
  t:raises(function() return dode.denoiser.unet{ path = fx .. 'legacy_attention', schedule = vp, predicts = 'edm' } end,
    { "option 'predicts'" }, 'edm prediction')
  t:raises(function()
      return dode.denoiser.unet{ path = fx .. 'heads_scale_shift', schedule = vp, predicts = 'eps' }
    end,
    { 'prediction_type', 'v' }, 'option against the scheduler file')
  t:raises(function() return dode.denoiser.unet{ path = fx .. 'legacy_attention', schedule = vp, threshold = 2 } end,
    { "option 'threshold'" }, 'threshold ratio above 1')
  local den = dode.denoiser.unet{ path = fx .. 'legacy_attention', schedule = vp }
  t:raises(function() return den(dode.zeros(2, 5), vp:point{ t = 10 }) end,
    { 'features per sample' }, 'wrong state size')
  t:raises(function() return den(dode.zeros(1, 3, 10, 16), vp:point{ t = 10 }) end,
    { 'multiples of 4', '10×16' }, 'an image size the architecture cannot take')
  t:raises(function() return dode.data.fashion{ folder = '/nonexistent' } end,
    { 'dataset-fashion-mnist' }, 'missing data')
end)

T:add('random calls into a unet denoiser raise errors, never crash', function(t)
  local den = dode.denoiser.unet{ path = fx .. 'resnet_sampling_classes', schedule = vp }
  local g = dode.Generator(5)
  local shapes = { { 2, 1, 8, 8 }, { 2, 64 }, { 1, 1, 16, 16 }, { 2, 1, 6, 8 }, { 3, 2, 8, 8 }, { 0, 1, 8, 8 },
    { 64 }, { 1, 1, 8, 8, 1 } }
  local points = { vp:point{ t = 500 }, vp:point{ t = 0 }, dode.schedule.vp{}:point{ t = 10 },
    dode.schedule.edm{}:point{ s = 1 } }
  local conds = { nil, dode.tensor{ 1 }, dode.tensor{ 1, 2 }, dode.tensor{ 9, 9 }, dode.tensor{ 0.5, 1 },
    dode.tensor{ 0 / 0 }, dode.zeros(2, 3), 'a', 3 }
  local ok_calls, errors = 0, 0
  math.randomseed(11)
  for _ = 1, 400 do
    local sh = shapes[math.random(#shapes)]
    local x = dode.randn(g, table.unpack(sh))
    if math.random() < 0.3 then x = x:float() end
    local p, c = points[math.random(#points)], conds[math.random(#conds)]
    local ok, err = pcall(function() return den(x, p, c) end)
    if ok then ok_calls = ok_calls + 1 else
      errors = errors + 1
      t:ok(tostring(err):find('test_unet.lua:', 1, true) ~= nil, 'error names the script line: ' .. tostring(err))
    end
  end
  t:ok(ok_calls > 10 and errors > 10, string.format('%d calls succeeded, %d raised errors', ok_calls, errors))
end)

T:run()
