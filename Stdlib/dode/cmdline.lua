--- dode.cmdline: declared command-line options for scripts.
--
--   local opts = require('dode.cmdline'){
--     description = 'D-ODE on the digits model',
--     { 'steps', 10, 'number of solver steps' },
--     { 'solver', 'ddim', 'solver name' },
--     { 'plot', true, 'write plots' },
--   }
--
-- Every script also understands `--help`, `--quick` (a fast smoke run; scripts read opts.quick)
-- and `--out DIR` (default `out/<script name>`). Options are `--name value` or `--name=value`;
-- booleans accept `--name`, `--no-name` and `--name true|false`. The parsed values are in the
-- returned table, with `opts._declared` listing them in order (for logging with results).
local M = {}

local function script_name()
  local s = arg and arg[0] or 'script'
  return (s:match('([^/]+)%.lua$') or s:match('([^/]+)$') or 'script')
end

local function convert(name, default, text)
  local kind = type(default)
  if kind == 'number' then
    local v = tonumber(text)
    if v == nil then error(string.format("option --%s expects a number (got '%s')", name, tostring(text)), 0) end
    return v
  elseif kind == 'boolean' then
    if text == 'true' or text == '1' or text == 'yes' then return true end
    if text == 'false' or text == '0' or text == 'no' then return false end
    error(string.format("option --%s expects true or false (got '%s')", name, tostring(text)), 0)
  end
  return text
end

local function usage(spec, decls)
  local lines = { 'usage: dode ' .. (arg and arg[0] or 'script.lua') .. ' [options]' }
  if spec.description then lines[#lines + 1] = '  ' .. spec.description end
  lines[#lines + 1] = 'options:'
  for _, d in ipairs(decls) do
    lines[#lines + 1] = string.format('  --%-18s %s (default: %s)', d[1], d[3] or '', tostring(d[2]))
  end
  return table.concat(lines, '\n')
end

--- Parses `args` (default: the global `arg`) against the declarations in `spec`.
function M.parse(spec, args)
  args = args or arg or {}
  local decls = {
    { 'quick', false, 'fast smoke run (small sizes)' },
    { 'out', 'out/' .. script_name(), 'folder for output files' },
  }
  for _, d in ipairs(spec) do
    if type(d) ~= 'table' or type(d[1]) ~= 'string' then
      error('dode.cmdline: each declaration must be {name, default, help}', 2)
    end
    decls[#decls + 1] = d
  end
  local byname, opts = {}, { _declared = {} }
  for _, d in ipairs(decls) do
    byname[d[1]] = d
    opts[d[1]] = d[2]
    opts._declared[#opts._declared + 1] = d[1]
  end
  local i = 1
  while args[i] ~= nil do
    local a = args[i]
    if a == '--help' or a == '-h' then
      print(usage(spec, decls))
      os.exit(0)
    end
    local name, value = a:match('^%-%-([%w_%-]+)=(.*)$')
    if not name then name = a:match('^%-%-([%w_%-]+)$') end
    if not name then
      error(string.format("unexpected argument '%s' (options are --name value)\n%s", a, usage(spec, decls)), 0)
    end
    local key = name:gsub('%-', '_')
    local d = byname[key]
    if not d and key:sub(1, 3) == 'no_' and byname[key:sub(4)] and type(byname[key:sub(4)][2]) == 'boolean' then
      opts[key:sub(4)] = false
    elseif not d then
      error(string.format("unknown option --%s\n%s", name, usage(spec, decls)), 0)
    elseif value ~= nil then
      opts[key] = convert(name, d[2], value)
    elseif type(d[2]) == 'boolean' and (args[i + 1] == nil or args[i + 1]:sub(1, 2) == '--'
        or not (args[i + 1] == 'true' or args[i + 1] == 'false')) then
      opts[key] = true
    else
      if args[i + 1] == nil then error(string.format('option --%s needs a value', name), 0) end
      opts[key] = convert(name, d[2], args[i + 1])
      i = i + 1
    end
    i = i + 1
  end
  return opts
end

--- Creates the output folder (and parents). Returns the path.
function M.mkdir(path)
  local ok = os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
  if not ok then error("cannot create folder '" .. path .. "'", 2) end
  return path
end

--- The options as one line (for logging next to results).
function M.describe(opts)
  local parts = {}
  for _, k in ipairs(opts._declared or {}) do parts[#parts + 1] = k .. '=' .. tostring(opts[k]) end
  return table.concat(parts, ' ')
end

return setmetatable(M, { __call = function(_, spec, args) return M.parse(spec, args) end })
