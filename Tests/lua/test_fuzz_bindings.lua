-- Robustness: every binding (every dode.* function, every tensor and generator method, every
-- tensor operator) is called with 10,000 random argument lists under pcall, with a low size cap,
-- in the temporary working folder Scripts/test runs Lua tests in. The process must survive and
-- every call must either succeed or raise a Lua error (a string naming where it happened);
-- no call may take longer than a second.
local T = require('dode.tester').new('binding fuzz')

local CALLS = tonumber(os.getenv('DODE_FUZZ_CALLS') or '') or 10000
local CAP = 1 << 20
math.randomseed(tonumber(os.getenv("DODE_FUZZ_SEED") or "") or 20261128)

local function tensors()
  local g = dode.Generator(7)
  return {
    dode.randn(g, 3), dode.randn(g, 2, 3), dode.randn(g, 3, 2, { dtype = 'float32' }),
    dode.zeros(0, 3), dode.randn(g, 2, 3):t(), dode.tensor(5), dode.randn(g, 2, 1, 3),
    dode.randn(g, 4, 4):narrow(2, 2, 2), dode.tensor{ 0 / 0, 1 / 0, -1 / 0 }, dode.ones(1),
  }
end

local pool_tensors = tensors()
local pool = {
  function() return nil end, function() return true end, function() return false end,
  function() return 0 end, function() return 1 end, function() return 2 end, function() return 3 end,
  function() return -1 end, function() return -3 end, function() return 0.5 end, function() return -2.5 end,
  function() return 0 / 0 end, function() return 1 / 0 end, function() return -1 / 0 end,
  function() return 1e300 end, function() return 2 ^ 53 end, function() return 2 ^ 31 end,
  function() return math.maxinteger end, function() return math.mininteger end,
  function() return '' end, function() return 'abc' end, function() return 'float32' end,
  function() return 'f.npy' end, function() return 'f.safetensors' end, function() return 'f.json' end,
  function() return 'missing/x.npy' end, function() return '1' end,
  function() return {} end, function() return { 1, 2 } end, function() return { 2, 3 } end,
  function() return { { 1, 2 }, { 3, 4 } } end, function() return { 1, { 2 } } end,
  function() return { dtype = 'float32' } end, function() return { dtype = 'int8' } end,
  function() return { offset = 2 } end, function() return { bogus = 1 } end, function() return { [1.5] = 1 } end,
  function() return { pool_tensors[1], pool_tensors[2] } end,
  function() return dode.Generator(3) end, function() return print end, function() return io.stdout end,
  function() return pool_tensors[math.random(#pool_tensors)] end,
  function() return pool_tensors[math.random(#pool_tensors)] end,
  function() return pool_tensors[math.random(#pool_tensors)] end,
}

local function random_value() return pool[math.random(#pool)]() end

local function random_args(first)
  local n = math.random(0, 5)
  local args = {}
  for i = 1, n do args[i] = random_value() end
  if first ~= nil then table.insert(args, 1, first) ; n = n + 1 end
  return args, n
end

-- Collect every binding.
local targets = {}
local function walk(t, prefix, seen)
  seen = seen or {}
  if seen[t] then return end
  seen[t] = true
  -- Keys in sorted order: an alias (dode.world is dode.mpi) is then always reached under the same
  -- name, whatever the hash order of the table (adding a key to dode changed it).
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local v = rawget(t, k)
    local name = prefix .. '.' .. tostring(k)
    -- dode._exit is os.exit (it ends the process by design); dode.mpi.print is print.
    local skip = name == 'dode._exit' or name == 'dode.mpi.print'
    if type(v) == 'function' and not skip then targets[#targets + 1] = { name = name, fn = v }
    elseif type(v) == 'table' and name ~= 'dode.Tensor' then walk(v, name, seen) end
  end
end
walk(dode, 'dode')
for k, f in pairs(dode.Tensor) do targets[#targets + 1] = { name = 'Tensor:' .. k, fn = f, method = true } end
local g = dode.Generator(1)
for _, k in ipairs{ 'seed', 'counter' } do
  targets[#targets + 1] = { name = 'Generator:' .. k, fn = g[k], gen = true }
end
local ops = {
  ['x + v'] = function(a, b) return a + b end, ['x - v'] = function(a, b) return a - b end,
  ['x * v'] = function(a, b) return a * b end, ['x / v'] = function(a, b) return a / b end,
  ['x ^ v'] = function(a, b) return a ^ b end, ['-x'] = function(a) return -a end,
  ['#x'] = function(a) return #a end, ['x[v]'] = function(a, b) return a[b] end,
  ['x[v] = w'] = function(a, b, c) a[b] = c end, ['tostring(x)'] = function(a) return tostring(a) end,
  ['x.v = w'] = function(a, b, c) a.field = c end,
}
for name, f in pairs(ops) do targets[#targets + 1] = { name = name, fn = f, method = true } end
table.sort(targets, function(a, b) return a.name < b.name end)

T:add('every binding survives random arguments', function(t)
  local calls, errors, slowest, slowest_name = 0, 0, 0, ''
  local bad = {}
  for _, target in ipairs(targets) do
    for _ = 1, CALLS do
      local first
      if target.method and math.random() < 0.8 then first = pool_tensors[math.random(#pool_tensors)]
      elseif target.gen and math.random() < 0.8 then first = g end
      local args, n = random_args(first)
      if target.name == 'dode.write_stderr' then
        -- Still called with every argument type, but strings emptied so the log stays readable.
        for i = 1, n do if type(args[i]) == 'string' then args[i] = '' end end
      end
      dode.limits{ max_bytes = CAP }
      -- dode.display.update prints its value outside a notebook: keep the log readable.
      local saved_print = print
      if target.name:match('^dode%.display%.') then print = function() end end
      local t0 = dode.clock()
      local ok, err = pcall(target.fn, table.unpack(args, 1, n))
      local dt = dode.clock() - t0
      print = saved_print
      calls = calls + 1
      if dt > slowest then slowest, slowest_name = dt, target.name end
      if not ok then
        errors = errors + 1
        if type(err) ~= 'string' or #err == 0 then bad[#bad + 1] = target.name .. ': non-string error' end
      end
      -- Restore what fuzzed calls may change, and refresh tensors that were modified in place.
      if target.name == 'dode.threads' then dode.threads(2) end
      if target.method and math.random() < 0.01 then pool_tensors = tensors() end
    end
  end
  dode.limits{ max_bytes = 1 << 40 }
  print(string.format('    %d bindings, %d calls, %d raised errors, slowest call %.3f s (%s)',
    #targets, calls, errors, slowest, slowest_name))
  t:ok(#targets >= 100, 'found ' .. #targets .. ' bindings')
  t:eq(#bad, 0, 'every error is a non-empty string: ' .. table.concat(bad, '; '))
  t:ok(slowest < 1.0, string.format('every call under 1 s (slowest %.3f s in %s)', slowest, slowest_name))
end)

T:add('errors carry file:line and the function name', function(t)
  for _, target in ipairs(targets) do
    if target.name:match('^dode%.') and target.name ~= 'dode.clock' and target.name ~= 'dode.is_tensor'
      and target.name ~= 'dode._docs' and target.name ~= 'dode.threads' and target.name ~= 'dode.limits'
      and target.name ~= 'dode.json.encode' then
      -- Called from a Lua function, so level 1 is this file (a C caller such as pcall has no line).
      local ok, err = pcall(function() return target.fn({}, {}, {}, {}) end)
      if not ok then
        t:ok(err:find('test_fuzz_bindings.lua:%d+:') ~= nil, target.name .. ' error has file:line: ' .. err)
        -- Methods reached through dode.Grid etc. report themselves as Grid:method.
        local alt = target.name:gsub('^dode%.(%u%w*)%.', '%1:')
        t:ok(err:find(target.name, 1, true) ~= nil or err:find(alt, 1, true) ~= nil,
          target.name .. ' error names the function: ' .. err)
      end
    end
  end
end)

T:run()
