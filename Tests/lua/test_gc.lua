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
  t:ok(peak and peak < 100, string.format('peak RSS %.1f MB < 100 MB', peak or -1))
  t:eq(acc, (n // 100000) * 1000, 'loop ran')
end)

T:run()
