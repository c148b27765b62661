-- Crash safety of every file dode writes: a child process rewrites a file over and over,
-- alternating two complete versions, and is killed with SIGKILL at a random moment; the file
-- must then hold one of the two versions exactly — never a partial or empty one — and temporary
-- files of dead writers are cleaned up by the next write. 30 trials for each of the 8 kinds of
-- file (240 in all): .npy, .safetensors and .json (dode.save), a fit (fit:save), a PNG grid
-- (dode.image.grid), a chart (plot.line), a CSV table (tb:save_csv) and text (dode.write_text).
local T = require('dode.tester').new('crash safety of writes (kill -9)')
local TRIALS = tonumber(os.getenv('DODE_CRASH_TRIALS') or '') or 30
local exe = arg[-1]
local dir = os.tmpname(); os.remove(dir); assert(os.execute('mkdir -p ' .. dir))
math.randomseed(tonumber(os.getenv('DODE_CRASH_SEED') or '') or 20261204)

-- The writer: `writer.lua KIND PATH VERSION` writes version VERSION (1 or 2) of a file of that
-- kind once; with a 4th argument 'loop' it alternates the two versions forever.
local writer = dir .. '/writer.lua'
local f = assert(io.open(writer, 'w'))
f:write([[
local kind, path, version, loop = arg[1], arg[2], tonumber(arg[3]), arg[4] == 'loop'
local plot, Table = require 'dode.plot', require 'dode.table'
local vp = dode.schedule.vp{}
local fit = {}
local function write(v)
  local x = dode.randn(dode.Generator(v), 300, 500)          -- 1.2 MB of Float64
  if kind == 'npy' then dode.save(path, x)
  elseif kind == 'safetensors' then dode.save(path, { a = x, b = x:float() })
  elseif kind == 'json' then dode.save(path, { version = v, values = x:narrow(1, 1, 40) })
  elseif kind == 'fit' then
    if not fit[v] then
      fit[v] = dode.distill.fit{ solver = dode.solver.ddim(), denoiser = dode.data.mixture('ring6_2d', vp),
        x = dode.randn(dode.Generator(v), 64, 2), grid = dode.grid.discrete(vp, 4, { spacing = 'trailing' }), k = 2 }
    end
    fit[v]:save(path)
  elseif kind == 'png' then dode.image.grid(x:narrow(1, 1, 256), { path = path, height = 20, width = 25, scale = 3 })
  elseif kind == 'svg' then
    local xs, ys = {}, {}
    for i = 1, 3000 do xs[i], ys[i] = i, x[1 + i % 300][1 + i % 500] + v end
    plot.line{ series = { { name = 'v' .. v, x = xs, y = ys } }, path = path }
  elseif kind == 'csv' then
    local tb = Table.new{ columns = { 'i', 'value' } }
    for i = 1, 3000 do tb:add{ i = i, value = x[1 + i % 300][1 + i % 500] * v } end
    tb:save_csv(path)
  elseif kind == 'text' then dode.write_text(path, string.rep('version ' .. v .. '\n', 100000))
  end
end
if loop then while true do write(1); write(2) end else write(version) end
]])
f:close()

-- A file's contents; a chart's element ids carry a per-process counter (unique ids when several
-- charts share one page), which is normalised away.
local function read_all(path)
  local s = require('dode.tester').read_file(path)
  return s and (s:gsub('dode%-plot%-%d+%-', 'dode-plot-N-'))
end

local function run_trials(t, kind, ext)
  -- The two versions, written at the target's own path (a chart's ids derive from it).
  local target = string.format('%s/%s.%s', dir, kind, ext)
  local versions = {}
  for v = 2, 1, -1 do
    assert(os.execute(string.format('%q %q %s %q %d', exe, writer, kind, target, v)), 'writer failed for ' .. kind)
    versions[v] = read_all(target)
  end
  t:ok(versions[1] and versions[2] and versions[1] ~= versions[2] and #versions[1] > 1000,
    kind .. ': two distinct versions')
  local counts = { 0, 0 }
  for trial = 1, TRIALS do
    local delay = 0.02 + math.random() * 0.5                  -- from start-up to several writes in
    os.execute(string.format('%q %q %s %q 1 loop & pid=$!; sleep %.3f; kill -9 $pid; wait $pid 2>/dev/null',
      exe, writer, kind, target, delay))
    local got = read_all(target)
    if got ~= nil then
      local which = (got == versions[1] and 1) or (got == versions[2] and 2) or nil
      t:ok(which ~= nil, string.format('%s trial %d (killed after %.0f ms): ' ..
        'the file is one complete version (%d bytes)', kind, trial, delay * 1e3, #got))
      if which then counts[which] = counts[which] + 1 end
    end
  end
  -- The next write removes the dead writers' temporary files.
  assert(os.execute(string.format('%q %q %s %q 1', exe, writer, kind, target)))
  local p = io.popen('ls -a ' .. dir)
  local leftovers = 0
  for name in p:lines() do
    if name:find('^%.' .. kind .. '%.' .. ext .. '%.tmp%-') then leftovers = leftovers + 1 end
  end
  p:close()
  t:eq(leftovers, 0, kind .. ': no temporary files left after the next write')
  print(string.format('    %-12s %d trials: version 1 %d times, version 2 %d times, never partial',
    kind, TRIALS, counts[1], counts[2]))
end

for _, k in ipairs({ { 'npy', 'npy' }, { 'safetensors', 'safetensors' }, { 'json', 'json' }, { 'fit', 'json' },
  { 'png', 'png' }, { 'svg', 'svg' }, { 'csv', 'csv' }, { 'text', 'txt' } }) do
  T:add(k[1] .. ' files survive kill -9', function(t) run_trials(t, k[1], k[2]) end)
end

T:run()
os.execute('rm -rf ' .. dir)
