-- Lua's collector is told about tensor bytes: allocating 1,000,000 tensors of 1,000 doubles
-- (8 GB in all) keeps the peak RSS under 100 MB.
local T = require('dode.tester').new('GC accounting')

local function peak_rss_mb()
  local f = io.open('/proc/self/status', 'r')
  if not f then return nil end
  local text = f:read('a'); f:close()
  local kb = text:match('VmHWM:%s*(%d+)')
  return kb and tonumber(kb) / 1024
end

T:add('1e6 tensors of 1000 doubles stay under 100 MB', function(t)
  local n = tonumber(os.getenv('DODE_GC_TENSORS') or '') or 1000000
  local acc = 0
  for i = 1, n do
    local x = dode.zeros(1000)
    if i % 100000 == 0 then acc = acc + x:numel() end
  end
  local peak = peak_rss_mb()
  print(string.format('    %d tensors, peak RSS %.1f MB', n, peak or -1))
  t:ok(peak ~= nil, '/proc/self/status is readable')
  -- Under a sanitizer (Scripts/test --long) freed memory is held in quarantine and padded: the
  -- loop runs for its memory errors, the bound is not checked.
  if not os.getenv('DODE_SANITIZER') then
    t:ok(peak and peak < 100, string.format('peak RSS %.1f MB < 100 MB', peak or -1))
  end
  t:eq(acc, (n // 100000) * 1000, 'loop ran')
end)

-- A stepper hands its state to Lua at every evaluation; the state's bytes are counted once
-- per storage, and the run still recycles its buffers: 400 evaluations on a 4 MB state
-- (1.6 GB of states in all) stay within 120 MB of peak RSS.
T:add('a long stepper loop on a 4 MB state stays bounded', function(t)
  local vp = dode.schedule.vp{}
  local den = dode.denoiser.gmm{ weights = { 1, 1 }, means = { { 0, 1 }, { 1, 0 } },
    stds = { { 0.5, 0.5 }, { 0.5, 0.5 } }, schedule = vp }
  local x = dode.randn(dode.Generator(1), 262144, 2)
  local grid = dode.grid.discrete(vp, 100, { spacing = 'trailing' })
  local n = 0
  for _, use_buffer in ipairs{ true, false } do
    for _ = 1, 2 do
      local st = dode.solver.dpmpp{ order = 2 }:start(grid, x)
      while not st:done() do
        if use_buffer then st:step(den:into(st:buffer(), st:x(), st:point())) else st:step(den(st:x(), st:point())) end
        n = n + 1
      end
    end
  end
  local peak = peak_rss_mb()
  print(string.format('    %d evaluations, peak RSS %.1f MB', n, peak or -1))
  t:eq(n, 400, 'loop ran')
  if not os.getenv('DODE_SANITIZER') then
    t:ok(peak and peak < 120, string.format('peak RSS %.1f MB < 120 MB', peak or -1))
  end
end)

T:run()
