-- The Lua-facing argument layer: the input is a program of binding calls. Two bytes pick a
-- binding (every dode.* function and every method of dode's types), one byte the argument
-- count, one byte per argument a value — a constant from a pool (numbers at the edges, strings,
-- tables, small tensors, a schedule, grid, mixture denoiser, solver, generator) or the result
-- of an earlier call, so calls chain (schedule → grid → solver → sample → fit ...). Every call
-- runs under pcall: it must return or raise a Lua error that is a string. The size cap is
-- 1 MB; the working folder is the fuzzer's (Scripts/fuzz runs it in a temporary one). Set
-- FUZZ_EXPLAIN=1 to print every call of an input (triage).
-- Loaded by the fuzz target (Sources/FuzzLuaCalls) and by the regression replay in
-- Tests/DodeLuaTests/FuzzRegressionTests.swift; defines fuzz_one(input).
local consts = {
  function() return nil end, function() return true end, function() return false end,
  function() return 0 end, function() return 1 end, function() return 2 end, function() return 3 end,
  function() return 7 end, function() return -1 end, function() return 0.5 end, function() return 1e-3 end,
  function() return 1 / 0 end, function() return -1 / 0 end, function() return 0 / 0 end, function() return 1e300 end,
  function() return 2 ^ 53 end, function() return math.maxinteger end, function() return math.mininteger end,
  function() return '' end, function() return 'abc' end, function() return 'float32' end, function() return 'x.npy' end,
  function() return 'f.safetensors' end, function() return 'f.json' end, function() return 'p.png' end,
  function() return 'ddim' end, function() return 'dpmpp' end, function() return 'eps' end,
  function() return 'trailing' end,
  function() return {} end, function() return { 1, 2 } end, function() return { 2, 3 } end,
  function() return { { 1, 2 }, { 3, 4 } } end, function() return { dtype = 'float32' } end,
  function() return { order = 2 } end, function() return { spacing = 'trailing' } end, function() return { k = 2 } end,
  function() return { final = 'none' } end, function() return { bogus = 1 } end,
  function() return dode.zeros(2, 2) end, function() return dode.ones(3) end,
  function() return dode.tensor{ 0 / 0, 1 } end,
  function() return dode.zeros(0, 2) end, function() return dode.ones(2, 1, 2):float() end,
  function() return dode.Generator(1) end, function() return dode.schedule.vp{} end,
  function() return dode.schedule.edm{} end,
  function() return dode.grid.discrete(dode.schedule.vp{}, 3, { spacing = 'trailing' }) end,
  function() return dode.denoiser.gmm{ weights = { 1, 1 }, means = { { 0, 0 }, { 1, 1 } },
    stds = { { 1, 1 }, { 0.5, 0.5 } }, schedule = dode.schedule.vp{} } end,
  function() return dode.solver.ddim() end, function() return dode.solver.dpmpp{ order = 2 } end,
  function() return dode.schedule.vp{}:point{ t = 500 } end,
}
local targets = {}
local function walk(t, prefix, seen)
  if seen[t] then return end
  seen[t] = true
  for k, v in pairs(t) do
    local name = prefix .. '.' .. tostring(k)
    -- Not fuzzed: os.exit and print (under any name: dode.world is dode.mpi), the benchmarks'
    -- baselines, and the loaders of the built-in Fashion-MNIST model, classifier and data set,
    -- which take no argument worth fuzzing and seconds each under AddressSanitizer (the unit
    -- tests cover them).
    local skip = v == dode._exit or v == dode.mpi.print or v == print or name:find('dode._bench', 1, true)
      or v == dode.models.fashion or v == dode.features.fashion or v == dode.data.fashion
    if type(v) == 'function' and not skip then targets[#targets + 1] = { name = name, fn = v }
    elseif type(v) == 'table' then walk(v, name, seen) end
  end
end
walk(dode, 'dode', {})
table.sort(targets, function(a, b) return a.name < b.name end)

local explain = os.getenv('FUZZ_EXPLAIN')   -- set it to print every call (triage)

function fuzz_one(s)
  local regs, pos = {}, 1
  local function byte() local b = s:byte(pos) or 0; pos = pos + 1; return b end
  local function value()
    local b = byte()
    if b < 160 then return consts[b % #consts + 1]() end
    return regs[(b - 160) % 16 + 1]
  end
  local calls = 0
  while pos <= #s and calls < 24 do
    local t = targets[(byte() * 256 + byte()) % #targets + 1]
    local n = byte() % 6
    local args = {}
    for i = 1, n do args[i] = value() end
    if explain then
      local d = {}
      for i = 1, n do d[i] = type(args[i]) == 'userdata' and tostring(args[i]):sub(1, 40) or tostring(args[i]) end
      io.stderr:write(t.name, '(', table.concat(d, ', '), ')\n')
    end
    local ok, r = pcall(t.fn, table.unpack(args, 1, n))
    if explain then io.stderr:write('  -> ', ok and 'ok' or ('error: ' .. tostring(r)), '\n') end
    if ok then regs[calls % 16 + 1] = r
    elseif type(r) ~= 'string' then error(t.name .. ' raised a non-string error: ' .. tostring(r)) end
    calls = calls + 1
  end
end
