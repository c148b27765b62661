--- help(x): documentation for any dode function, method, module or value.
-- The text comes from the same registry that `dode --reference` prints, so help and the
-- reference manual never disagree. Stdlib modules add their own entries with `M.register`.
local dode = require 'dode'
local M = {}

local extra = {}      -- docs registered by Lua modules: name -> {signature=, text=}
local names = nil     -- function/table -> name, built lazily

--- Registers documentation for a Lua-defined value (used by Stdlib modules).
function M.register(value, name, signature, text)
  extra[name] = { signature = signature, text = text }
  if names and value ~= nil then names[value] = name end
  M._pending = M._pending or {}
  if value ~= nil then M._pending[value] = name end
end

local function docs()
  local d = dode._docs()
  for k, v in pairs(extra) do d[k] = v end
  return d
end

local function index()
  if names then return names end
  names = {}
  local seen = {}
  local function walk(t, prefix)
    if seen[t] then return end
    seen[t] = true
    for k, v in pairs(t) do
      if type(k) == 'string' and k:sub(1, 1) ~= '_' then
        local full = prefix .. '.' .. k
        if type(v) == 'function' or type(v) == 'table' then names[v] = names[v] or full end
        if type(v) == 'table' and full ~= 'dode.Tensor' and full ~= 'dode.json.null' then walk(v, full) end
      end
    end
  end
  names[dode] = 'dode'
  names[dode.Tensor] = 'dode.Tensor'
  for k, v in pairs(dode.Tensor) do names[v] = 'Tensor:' .. k end
  walk(dode, 'dode')
  for v, n in pairs(M._pending or {}) do names[v] = n end
  return names
end

local function show(name, d)
  print(d.signature)
  if d.text and d.text ~= '' then print('  ' .. d.text) end
end

local function list(prefix, all)
  local keys = {}
  for k in pairs(all) do
    if k:sub(1, #prefix) == prefix and not k:find('__', 1, true) and not k:find('%._') then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do print(string.format('  %-28s %s', k, all[k].signature)) end
end

--- help(x): x may be a dode function, method, module table, tensor, or a name such as
-- 'dode.randn' or 'Tensor:add'. help() gives an overview.
function M.help(x)
  local all = docs()
  if x == nil then
    show('dode', all['dode'])
    print('\nModules and functions:')
    list('dode.', all)
    print("\nTensor methods: help(dode.Tensor). Any entry: help(dode.randn) or help('Tensor:add').")
    return
  end
  local name
  if type(x) == 'string' then
    name = x
  elseif dode.is_tensor(x) then
    print(tostring(x))
    name = 'dode.Tensor'
  else
    name = index()[x]
  end
  if not name or not all[name] then
    if name and type(x) == 'table' then
      print(name); list(name .. '.', all); return
    end
    print('no help for ' .. tostring(name or x))
    return
  end
  show(name, all[name])
  if name == 'dode.Tensor' then
    print('\nMethods:')
    list('Tensor:', all)
  elseif type(x) == 'table' or (type(x) == 'string' and not all[name].signature:find('%(')) then
    list(name .. '.', all)
  end
end

return M
