-- dode benchmarks (Scripts/bench). Every figure is timed in this run, best of several
-- repetitions, and compared with a baseline measured in the same run: raw memcpy/BLAS calls for
-- the tensor core, bounds from the measured dgemm rate and memory bandwidth for the kernels, and
-- PyTorch (CPU, 2 threads) on the same work when a Python with torch is available (the dode
-- virtualenv; `--torch false` to skip, DODE_BENCH_PYTHON to choose the interpreter).
local cmdline = require 'dode.cmdline'
local Table = require 'dode.table'
local opts = cmdline{
  description = 'dode benchmarks (release build)',
  { 'reps', 7, 'repetitions (the best is kept)' },
  { 'torch', true, 'also time the PyTorch implementations' },
  { 'only', '', 'comma-separated workload names to run (default: all)' },
}
local reps = opts.quick and 2 or math.floor(opts.reps)
cmdline.mkdir(opts.out)
local quick = opts.quick
local only = {}
for w in opts.only:gmatch('[^,]+') do only[w] = true end
local function want(name) return next(only) == nil or only[name] end

local function best(fn, n)
  local b = math.huge
  for _ = 1, n or reps do
    local t0 = dode.clock()
    fn()
    b = math.min(b, dode.clock() - t0)
  end
  return b
end

local tb = Table.new{
  columns = { 'workload', 'dode_ms', 'baseline', 'baseline_ms', 'ratio', 'target', 'note' },
  formats = { dode_ms = '%.3f', baseline_ms = '%.3f', ratio = '%.2fx' },
}
local function row(name, t, base_name, base, target, note)
  tb:add{ workload = name, dode_ms = t * 1e3, baseline = base_name or '', baseline_ms = base and base * 1e3 or nil,
    ratio = base and t / base or nil, target = target or '', note = note or '' }
  io.stderr:write(string.format('%-46s %10.3f ms  %s\n', name, t * 1e3, note or ''))
end

print(string.format('dode %s, %d threads, best of %d%s', dode.version, dode.threads(), reps,
  quick and ' (quick sizes)' or ''))

-- Rates measured in this run, used as bounds below.
local g = dode.Generator(1)
local n_mm = quick and 256 or 1024
local A, B = dode.randn(g, n_mm, n_mm), dode.randn(g, n_mm, n_mm)
local C = dode.zeros(n_mm, n_mm)
local t_dgemm = best(function() dode._bench.dgemm(A, B, C) end)
local dgemm_rate = 2 * n_mm ^ 3 / t_dgemm
local Af, Bf = A:float(), B:float()
local t_sgemm = best(function() local _ = Af:mm(Bf) end)
local sgemm_rate = 2 * n_mm ^ 3 / t_sgemm
local n_bw = quick and 1000000 or 10000000
local bx, by = dode.randn(g, n_bw), dode.zeros(n_bw)
local t_memcpy = best(function() dode._bench.memcpy(by, bx) end)
local bandwidth = 2 * 8 * n_bw / t_memcpy       -- bytes read + written per second
print(string.format('measured: dgemm %.1f GFLOP/s, sgemm %.1f GFLOP/s, memcpy %.1f GB/s (read + write)',
  dgemm_rate / 1e9, sgemm_rate / 1e9, bandwidth / 1e9))

-- Tensor core.
if want('core') then
  local y = dode.randn(g, n_bw)
  row('axpby y = a*x + b*y (' .. n_bw .. ' doubles)', best(function() y:axpby(0.5, bx, 0.25) end), 'memcpy same bytes',
    t_memcpy, '<= 1.5x')
  row('x:mm(y) ' .. n_mm .. 'x' .. n_mm .. ' float64', best(function() local _ = A:mm(B) end), 'cblas_dgemm direct',
    t_dgemm, '<= 1.2x', string.format('%.1f GFLOP/s', dgemm_rate / 1e9))
  local calls = quick and 1000000 or 10000000
  local noop = dode._bench.noop
  local function lua_noop() end
  local t = best(function() for _ = 1, calls do noop() end end)
  local l = best(function() for _ = 1, calls do lua_noop() end end)
  row('Lua -> Swift call overhead (ns per call)', (t - l) / calls * 1e6, 'Lua -> Lua call (ns)', l / calls * 1e6,
    '<= 100 ns', 'dode_ms column holds ns here')
end

-- The mixture problem of workload 1: 64-D, 10 components, per-axis stds.
local K, d = 10, 64
local batch = quick and 1000 or 10000
local mg = dode.Generator(7)
local means, stds = dode.randn(mg, K, d), (dode.rand(mg, K, d) * 0.4 + 0.05)
local mixpath = opts.out .. '/bench_mixture.json'
dode.save(mixpath, { dim = d, weights = (dode.rand(mg, K) + 0.2):totable(), means = means:totable(),
  stds = stds:totable() })
local edm = dode.schedule.edm{}
local mix_edm = dode.denoiser.gmm{ file = mixpath, schedule = edm }
local xm = dode.randn(dode.Generator(0), batch, d)
local kgrid = dode.grid.karras(edm, 10, { sigma_min = 0.002, sigma_max = 80 })
local ym = xm * 80

local results = {}
if want('mixture') then
  local p = edm:point{ s = 1 }
  local out = dode.zeros(batch, d)
  -- The kernel and its two bounds are timed in alternation, best of each, so that all three
  -- see the same machine conditions (on a shared VM the rates drift by tens of percent). The
  -- kernel runs three times back to back per round, as a sampler calls it step after step.
  local rounds = quick and reps or math.max(3 * reps, 21)
  local t_den, t_mm, t_cp = math.huge, t_dgemm, t_memcpy
  for _ = 1, rounds do
    t_den = math.min(t_den, best(function() mix_edm:into(out, xm, p) end, 3))
    t_mm = math.min(t_mm, best(function() dode._bench.dgemm(A, B, C) end, 1))
    t_cp = math.min(t_cp, best(function() dode._bench.memcpy(by, bx) end, 1))
  end
  local flops, bytes = 6 * batch * K * d, 2 * batch * d * 8
  local bound = math.max(flops / (2 * n_mm ^ 3 / t_mm), bytes / (2 * 8 * n_bw / t_cp))
  row(string.format('mixture denoiser %dx%d, K=%d', batch, d, K), t_den, 'max(flops@dgemm, bytes@memcpy)', bound,
    '<= 2x', string.format('%.1f GFLOP/s, %.1f GB/s', flops / t_den / 1e9, bytes / t_den / 1e9))
  results.mixture_denoiser = t_den
  local s = dode.solver.dpmpp{ order = 2 }
  results.mixture_dpmpp2m = best(function() local _ = s:sample(mix_edm, ym, kgrid) end)
  row('W1 mixture DPM++(2M), 10 NFE, ' .. batch .. 'x64 f64', results.mixture_dpmpp2m, nil, nil,
    '>= 2x faster than torch')
end

-- Workload 2: the digits MLP, Float32, DDIM and DPM++(2M), 10 evaluations.
local den = dode.models.digits()
local vp = den:schedule()
local nb = quick and 512 or 4096
local xn = dode.randn(dode.Generator(3), nb, 64, { dtype = 'float32' })
local ngrid = dode.grid.discrete(vp, 10, { spacing = 'trailing' })
if want('network') then
  local p = vp:point{ t = 500 }
  local t_fwd = best(function() local _ = den(xn, p) end)
  -- per-sample layers (the time branch is one row)
  local mlp_flops = 2 * nb * (64 * 256 + 3 * 2 * 256 * 256 + 256 * 64)
  row(string.format('digits MLP denoiser, batch %d', nb), t_fwd, 'same flops at sgemm rate', mlp_flops / sgemm_rate,
    '>= 50% of sgemm',
    string.format('%.1f GFLOP/s = %.0f%% of sgemm', mlp_flops / t_fwd / 1e9, 100 * mlp_flops / t_fwd / sgemm_rate))
  results.net_forward = t_fwd
  results.net_ddim = best(function() local _ = dode.solver.ddim():sample(den, xn, ngrid) end)
  results.net_dpmpp2m = best(function() local _ = dode.solver.dpmpp{ order = 2 }:sample(den, xn, ngrid) end)
  row('W2 digits MLP DDIM, 10 NFE, batch ' .. nb, results.net_ddim)
  row('W2 digits MLP DPM++(2M), 10 NFE, batch ' .. nb, results.net_dpmpp2m)
end

-- PyTorch in a server process, so that its timings alternate with dode's (bench_torch.py --serve).
local here = debug.getinfo(1, 'S').source:match('^@(.*)/[^/]*$') or 'Scripts'
local py = os.getenv('DODE_BENCH_PYTHON')
  or ((os.getenv('XDG_CACHE_HOME') or (os.getenv('HOME') .. '/.cache')) .. '/dode-venv/bin/python')
local function torch_server()
  local fh = io.open(py)
  if not fh then
    return nil, 'no Python with torch at ' .. py .. ' (create it with Scripts/bench_torch.py, or --torch false)'
  end
  fh:close()
  local fifo, log = opts.out .. '/torch_replies.fifo', opts.out .. '/torch_server.log'
  os.remove(fifo)
  if not os.execute(string.format('mkfifo %q', fifo)) then return nil, 'mkfifo failed' end
  local w = io.popen(string.format('exec %q %q --serve > %q 2> %q', py, here .. '/bench_torch.py', fifo, log), 'w')
  local r = io.open(fifo, 'r')
  local srv = { log = log }
  function srv.ask(cmd)
    w:write(dode.json.encode(cmd), '\n')
    w:flush()
    local line = r:read('l')
    if not line then return nil, 'the PyTorch server stopped (see ' .. log .. ')' end
    local ok, rep = pcall(dode.json.decode, line)
    if not ok or type(rep) ~= 'table' then return nil, 'bad reply from the PyTorch server: ' .. line end
    if rep.error then return nil, 'PyTorch: ' .. tostring(rep.error) end
    return rep
  end
  function srv.close()
    pcall(function() w:write('{"op": "quit"}\n'); w:flush() end)
    w:close()
    r:close()
    os.remove(fifo)
  end
  return srv
end

-- Workloads 6 and 7: diffusers UNet2DModel forward passes (the reduced DDPM-CIFAR-10 fixture and
-- the built-in Fashion-MNIST model), dode and PyTorch + diffusers (same weights) timed in
-- alternation: each round takes the best of a few calls on each side; the figures are the best
-- over the rounds, and the spread is that of the rounds' ratios.
local unet_path = here .. '/../Tests/Fixtures/unet/cifar_small'
local fashion_path = dode.models.path('fashion_unet')
local unet_batch = quick and 16 or 64
local srv, srv_err
if want('unet') and opts.torch then srv, srv_err = torch_server() end
if want('unet') then
  if opts.torch and not srv then print('PyTorch side of W6/W7 skipped: ' .. srv_err) end
  local rounds = quick and 2 or math.max(reps, 5)
  local function alternate(path, channels, batch, inner)
    local den = dode.denoiser.unet{ path = path, schedule = vp }
    local x = dode.randn(dode.Generator(4), batch, channels, 32, 32, { dtype = 'float32' })
    local p = vp:point{ t = 500 }
    den(x, p)   -- the first call sizes the workers' buffers
    local bd, bt, ratios = math.huge, math.huge, {}
    for _ = 1, rounds do
      -- A pause before each side lets the other side's idle threads (which poll for a while
      -- after a job, in dode's pool as in OpenMP) go to sleep.
      if srv then os.execute('sleep 0.2') end
      local td = best(function() local _ = den(x, p) end, inner)
      bd = math.min(bd, td)
      if srv then
        os.execute('sleep 0.2')
        local rep, err = srv.ask{ op = 'unet', path = path, batch = batch, reps = inner }
        if rep then
          bt = math.min(bt, rep.seconds)
          ratios[#ratios + 1] = rep.seconds / td
          results.torch_version = rep.torch
        else
          print('PyTorch side failed: ' .. err)
          srv.close()
          srv = nil
        end
      end
    end
    return den, bd, bt < math.huge and bt or nil, ratios
  end
  local function unet_row(name, path, channels, batch, inner, key)
    local den, td, tt, ratios = alternate(path, channels, batch, inner)
    local flops = batch * dode._bench.unet_flops(den, 32, 32)
    results[key] = td
    local conv = string.format('%.0f images/s; convolutions %.0f GFLOP/s = %.0f%% of sgemm', batch / td,
      flops / td / 1e9, 100 * flops / td / sgemm_rate)
    if tt then
      table.sort(ratios)
      results[key .. '_torch'] = tt
      row(name, td, 'PyTorch + diffusers (alternating)', tt, '>= 2x faster',
        string.format('%.2fx faster than torch (rounds %.2f-%.2fx); %s', tt / td, ratios[1], ratios[#ratios], conv))
    else
      row(name, td, 'conv flops at sgemm rate', flops / sgemm_rate, '>= 2x faster than torch', conv)
    end
  end
  unet_row(string.format('W6 UNet2DModel (cifar_small) forward, batch %d', unet_batch), unet_path, 3, unet_batch, 3,
    'unet_forward')
  unet_row(string.format('W7 Fashion U-Net forward, batch %d', unet_batch), fashion_path, 1, unet_batch, 3,
    'fashion_forward')
  unet_row('W7 Fashion U-Net forward, batch 1', fashion_path, 1, 1, quick and 5 or 20, 'fashion_forward_1')
  if srv then srv.close(); srv = nil end

  -- 3x3 convolutions of 16-128 channels as the U-Net runs them, useful flops (the direct
  -- form's) against the sgemm rate, the two timed in alternation.
  local cbatch = quick and 4 or 16
  for _, size in ipairs{ 32, 16 } do
    local notes, worst, tsum, fsum, bsum = {}, math.huge, 0, 0, 0
    for _, c in ipairs{ 16, 32, 64, 128 } do
      local flops = 2 * c * c * 9 * size * size * cbatch
      local tw, td, ts = math.huge, math.huge, math.huge
      for _ = 1, quick and 1 or 3 do
        tw = math.min(tw, dode._bench.conv3x3(c, c, size, cbatch, 3))
        td = math.min(td, dode._bench.conv3x3(c, c, size, cbatch, 3, false))
        ts = math.min(ts, best(function() local _ = Af:mm(Bf) end, 2))
      end
      local rate = 2 * n_mm ^ 3 / ts
      local pct = 100 * flops / tw / rate
      worst = math.min(worst, pct)
      tsum, fsum, bsum = tsum + tw, fsum + flops, bsum + flops / rate
      notes[#notes + 1] = string.format('%d ch %.0f%% (direct %.0f%%)', c, pct, 100 * flops / td / rate)
    end
    row(string.format('3x3 conv 16-128 ch at %dx%d, batch %d (sum of 4)', size, size, cbatch), tsum,
      'useful flops at sgemm rate', bsum, '>= 60% of sgemm',
      string.format('%.0f GFLOP/s; lowest %.0f%%: %s', fsum / tsum / 1e9, worst, table.concat(notes, ', ')))
  end
end

-- Workload 3: a D-ODE fit against one teacher pass + one student pass.
if want('fit') then
  local vpm = dode.gmm and nil
  local mix_vp = dode.denoiser.gmm{ file = mixpath, schedule = vp }
  local fb = quick and 256 or 1024
  local xf = dode.randn(dode.Generator(5), fb, d)
  local grid = dode.grid.discrete(vp, 10, { spacing = 'trailing' })
  local s = dode.solver.ddim()
  local t_fit = best(function()
    local _ = dode.distill.fit{ solver = s, denoiser = mix_vp, x = xf, grid = grid, k = 10 }
  end)
  local t_pass = best(function()
    local _ = s:sample(mix_vp, xf, grid:refine(10)); local _ = s:sample(mix_vp, xf, grid)
  end)
  row('W3 D-ODE fit DDIM N=10 K=10 batch ' .. fb, t_fit, 'teacher pass + student pass', t_pass, '<= 1.15x')
  -- The Fashion U-Net: the fit and its passes in alternation.
  local uden = dode.denoiser.unet{ path = dode.models.path('fashion_unet'), schedule = vp }
  local ub = quick and 32 or 256
  local xu = dode.randn(dode.Generator(6), ub, 1, 32, 32)
  local g5 = dode.grid.discrete(vp, 5, { spacing = 'trailing' })
  local tf, tp = math.huge, math.huge
  for _ = 1, quick and 1 or 3 do
    tf = math.min(tf, best(function()
      local _ = dode.distill.fit{ solver = s, denoiser = uden, x = xu, grid = g5, k = 10 }
    end, 1))
    tp = math.min(tp, best(function()
      local _ = s:sample(uden, xu, g5:refine(10)); local _ = s:sample(uden, xu, g5)
    end, 1))
  end
  row('W7 D-ODE fit, Fashion U-Net DDIM N=5 K=10 batch ' .. ub, tf, 'teacher pass + student pass', tp, '<= 1.15x',
    string.format('%d U-Net evaluations of %d images per fit', 55, ub))
end

-- Workload 4: overheads.
if want('overhead') then
  local one = dode.denoiser.gmm{ weights = { 1 }, means = { { 0 } }, stds = { { 1 } }, schedule = vp }
  local steps = quick and 200 or 999
  local fine = dode.grid.discrete(vp, steps, { spacing = 'trailing' })
  local x1 = dode.randn(dode.Generator(1), 1, 1)
  local s = dode.solver.dpmpp{ order = 2 }
  local t_sample = best(function() local _ = s:sample(one, x1, fine) end)
  local pts = fine:points()
  local t_den = best(function() for i = 1, steps do local _ = one(x1, pts[i]) end end)
  row('W4 solver overhead per step, batch 1 (ms)', (t_sample - t_den) / steps, nil, nil, '<= 0.01 ms',
    string.format('%d steps: sample %.2f ms, denoiser calls alone %.2f ms', steps, t_sample * 1e3, t_den * 1e3))
  local xb = dode.randn(dode.Generator(2), quick and 500 or 10000, d)   -- batch x dim >= 1e5
  local mix_vp = dode.denoiser.gmm{ file = mixpath, schedule = vp }
  local g10 = dode.grid.discrete(vp, 10, { spacing = 'trailing' })
  -- sample and the two Lua loops in alternation, best of each (the machine drifts).
  local t_s, t_l, t_a = math.huge, math.huge, math.huge
  for _ = 1, reps do
    t_s = math.min(t_s, best(function() local _ = s:sample(mix_vp, xb, g10) end, 1))
    -- The allocation-free idiom: the denoiser writes into a buffer the run lends.
    t_l = math.min(t_l, best(function()
      local st = s:start(g10, xb)
      while not st:done() do st:step(mix_vp:into(st:buffer(), st:x(), st:point())) end
    end, 1))
    t_a = math.min(t_a, best(function()
      local st = s:start(g10, xb)
      while not st:done() do st:step(mix_vp(st:x(), st:point())) end
    end, 1))
  end
  row('W4 Lua stepper loop (den:into(st:buffer())) vs sample', t_l, 'solver:sample', t_s, '<= 1.05x')
  row('W4 Lua stepper loop (den(...) allocating)', t_a, 'solver:sample', t_s, '',
    'each call allocates a prediction, which the run copies')
end

-- Workload 5: peak RSS of workload 1 in a fresh process.
if want('memory') then
  local exe = arg[-1]
  local script = opts.out .. '/bench_memory.lua'
  local f = io.open(script, 'w')
  f:write(string.format([[
local edm = dode.schedule.edm{}
local den = dode.denoiser.gmm{ file = %q, schedule = edm }
local y = dode.randn(dode.Generator(0), %d, 64) * 80
local s = dode.solver.dpmpp{ order = 2 }
local out = s:sample(den, y, dode.grid.karras(edm, 10, { sigma_min = 0.002, sigma_max = 80 }))
local st = io.open('/proc/self/status'):read('a')
print(st:match('VmHWM:%%s*(%%d+)'))
]], mixpath, batch))
  f:close()
  local p = io.popen(string.format('%q %q', exe, script))
  local kb = tonumber(p:read('a'):match('(%d+)'))
  p:close()
  local state = batch * d * 8
  if kb then
    row('W5 peak RSS of W1 (MB)', kb / 1024 / 1e3, 'state size (MB)', state / 1e6 / 1e3, '<= 8x state + 50 MB',
      string.format('peak %.1f MB, state %.1f MB, limit %.1f MB', kb / 1024, state / 1e6, 8 * state / 1e6 + 50))
  end
end

-- Scale-out: the fit + sample job of Scripts/bench_mpi.lua on 1 and 2 MPI ranks of this
-- machine (strong scaling; each rank takes cores / ranks threads), and the collective a fit adds
-- per evaluation against one evaluation of the digits MLP at batch 1024.
if want('mpi') then
  local here = debug.getinfo(1, 'S').source:match('^@(.*)/[^/]*$') or 'Scripts'
  local version = io.popen('mpirun --version 2>/dev/null'):read('a') or ''
  local root = os.getenv('USER') == 'root' or io.popen('id -u'):read('l') == '0'
  local flags = version:find('Open MPI', 1, true)
    and ('--oversubscribe' .. (root and ' --allow-run-as-root' or '')) or ''
  local runs = {}
  for _, n in ipairs({ 1, 2 }) do
    local cmd = string.format('mpirun %s -n %d %q %q %s 2>&1', flags, n, arg[-1], here .. '/bench_mpi.lua',
      quick and '--quick' or '')
    local text = io.popen(cmd):read('a')
    local ok, r = pcall(dode.json.decode, text:match('(%b{})%s*$') or '')
    if ok and type(r) == 'table' then runs[n] = r else print('mpirun -n ' .. n .. ' failed: ' .. text:sub(1, 400)) end
  end
  if runs[1] and runs[2] then
    results.mpi = runs
    row(string.format('MPI fit + sample job, digits MLP, batch %d, 2 ranks', runs[2].batch), runs[2].job_s,
      '1 rank (2 threads)', runs[1].job_s, '',
      string.format('strong scaling %.2fx on 2 cores (fit %.0f -> %.0f ms, sample %.0f -> %.0f ms)',
        runs[1].job_s / runs[2].job_s, runs[1].fit_s * 1e3, runs[2].fit_s * 1e3, runs[1].sample_s * 1e3,
        runs[2].sample_s * 1e3))
    row('MPI collective per fitted evaluation, 2 ranks', runs[2].collective_s, 'digits MLP evaluation, batch 1024',
      runs[2].mlp_eval_1024_s, '<= 0.05x',
      string.format('fit with vs without the collective: %+.3f ms per evaluation (noise of the whole fit)',
        runs[2].fit_world_minus_alone_per_eval_s * 1e3))
  end
end

-- PyTorch on the same work.
if opts.torch and (want('mixture') or want('network')) then
  local fh = io.open(py)
  if fh then
    fh:close()
    local sig = {}
    for i = 1, #kgrid do sig[i] = kgrid[i].s end
    local spec = opts.out .. '/bench_torch_spec.json'
    dode.save(spec, { mixture = mixpath, mixture_batch = batch, sigmas = sig, reps = reps,
      model = dode.models.path('digits_mlp'), net_batch = nb, labels = ngrid:timesteps() })
    local p = io.popen(string.format('%q %q %q 2>&1', py, here .. '/bench_torch.py', spec))
    local text = p:read('a')
    p:close()
    local ok, tr = pcall(dode.json.decode, text:match('(%b{})%s*$') or '')
    if ok and type(tr) == 'table' then
      results.torch = tr
      if results.mixture_dpmpp2m then
        row('W1 PyTorch mixture DPM++(2M)', tr.mixture_dpmpp2m, 'dode (same work)', results.mixture_dpmpp2m, '',
          string.format('dode is %.2fx faster', tr.mixture_dpmpp2m / results.mixture_dpmpp2m))
        row('PyTorch mixture denoiser', tr.mixture_denoiser, 'dode (same work)', results.mixture_denoiser, '',
          string.format('dode is %.2fx faster', tr.mixture_denoiser / results.mixture_denoiser))
      end
      if results.net_ddim then
        row('W2 PyTorch MLP DDIM', tr.net_ddim, 'dode (same work)', results.net_ddim, '',
          string.format('dode is %.2fx faster', tr.net_ddim / results.net_ddim))
        row('W2 PyTorch MLP DPM++(2M)', tr.net_dpmpp2m, 'dode (same work)', results.net_dpmpp2m, '',
          string.format('dode is %.2fx faster', tr.net_dpmpp2m / results.net_dpmpp2m))
        row('PyTorch MLP forward', tr.net_forward, 'dode (same work)', results.net_forward, '',
          string.format('dode is %.2fx faster', tr.net_forward / results.net_forward))
      end
    else
      print('PyTorch side failed: ' .. text:sub(1, 400))
    end
  else
    print('no Python with torch at ' .. py .. ' (create it with Scripts/bench_torch.py, or --torch false)')
  end
end

if srv then srv.close() end
print(tb)
tb:save_json(opts.out .. '/bench.json')
dode.save(opts.out .. '/bench_rates.json', { dgemm_gflops = dgemm_rate / 1e9, sgemm_gflops = sgemm_rate / 1e9,
  memcpy_gbps = bandwidth / 1e9, options = cmdline.describe(opts), dode = dode.version })
print('wrote ' .. opts.out .. '/bench.json')
