-- dode quickstart: a short tour of the tensor core.
-- (This becomes the D-ODE experiment once solvers and distillation exist.)
--   Scripts/dode Examples/quickstart.lua [--quick] [--out DIR]
local cmdline = require 'dode.cmdline'
local opts = cmdline{ description = 'A tour of dode tensors', { 'n', 100000, 'rows in the timing demo' } }
local n = opts.quick and 1000 or math.floor(opts.n)

-- Explicit, seeded generators: row i depends only on (seed, draw, i).
local g = dode.Generator(42)
local x = dode.randn(g, n, 64)
print(x:narrow(1, 1, 3):narrow(2, 1, 5))
print(string.format('mean %.4f, std %.4f over %d samples', x:mean(), math.sqrt((x * x):mean()), x:numel()))

-- Same rows whatever the batch size.
local small = dode.randn(dode.Generator(42), 2, 64)
assert((small[1] - x[1]):abs():max() == 0, 'row rule')

-- Broadcasting and in-place updates.
local mu = x:mean(1)                        -- 64 column means
local centred = x - mu                      -- broadcast over rows
centred:mul(2):add(x, -1)                   -- in place: 2·(x - mu) - x
print('after in-place ops, first row:', centred[1]:narrow(1, 1, 4))

-- Matrix products go through OpenBLAS.
local t0 = dode.clock()
local gram = x:t():mm(x)
print(string.format('64x64 Gram matrix of %d rows in %.2f ms', n, (dode.clock() - t0) * 1e3))

-- Files: .npy and .safetensors round-trip, written atomically.
cmdline.mkdir(opts.out)
dode.save(opts.out .. '/gram.npy', gram)
local back = dode.load(opts.out .. '/gram.npy')
print('npy round trip exact:', (back - gram):abs():max() == 0)
dode.save(opts.out .. '/run.json', { options = cmdline.describe(opts), trace = gram:sum() / n })
print('wrote', opts.out .. '/gram.npy', opts.out .. '/run.json')
