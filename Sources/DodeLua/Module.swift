import CLua
import DodeCore
import DodeTensor
import Foundation

/// Lua code run once per VM after the bindings exist: tensor indexing, the Stdlib searcher,
/// `require 'dode'`, and the `help` function.
private let bootstrap = #"""
local dode, types = ...
-- Userdata types: methods in a table; `__get`/`__set` bindings handle other keys (x[i],
-- point.s); any other assignment is an error (points, grids and schedules are immutable).
for name, ty in pairs(types) do
  local methods, mt = ty.methods, ty.mt
  local get, set = methods.__get, methods.__set
  methods.__get, methods.__set = nil, nil
  if get then
    if name == 'Tensor' then
      mt.__index = function(t, k)
        local m = methods[k]
        if m ~= nil then return m end
        if type(k) == 'number' then return get(t, k) end
        return nil
      end
    else
      mt.__index = function(t, k)
        local m = methods[k]
        if m ~= nil then return m end
        return get(t, k)
      end
    end
  else
    mt.__index = methods
  end
  mt.__newindex = function(t, k, v)
    if set and type(k) == 'number' then return set(t, k, v) end
    error('dode.' .. name .. ": cannot set field '" .. tostring(k) .. "' ("
      .. (name == 'Tensor' and 'tensors have no fields; use x[i] = v' or name .. ' values are immutable') .. ')', 2)
  end
  -- dode.Tensor, dode.Grid, ... are the methods tables (help, and user extensions in Lua);
  -- dode.Generator stays the constructor.
  if name ~= 'Generator' then dode[name] = methods end
end
os.exit = dode._exit
local source = dode._stdlib_source
table.insert(package.searchers, 2, function(name)
  local src, chunk = source(name)
  if not src then return "\n\tno dode Stdlib module '" .. name .. "'" end
  local f, err = load(src, chunk)
  if not f then error(err, 0) end
  return f, chunk
end)
package.loaded.dode = dode
_G.dode = dode
local ok, h = pcall(require, 'dode.help')
if ok then _G.help = h.help end
local okd, d = pcall(require, 'dode.display')
if okd then
  dode.display = d
else
  dode.write_stderr('dode: the display module does not load: ' .. tostring(d) .. '\n')
end
"""#

extension LuaVM {
    /// Registers every binding and builds the `dode` table.
    func installModule() {
        installTensorBindings()
        installIOBindings()
        installBenchBindings()
        installScheduleBindings()
        installGridBindings()
        installDenoiserBindings()
        installReferenceBindings()
        installModelDataBindings()
        installSolverBindings()
        installDistillBindings()
        installMetricsBindings()
        installMPIBindings()
        installDisplayBindings()
        installModuleDocs()
        def("dode._docs", "dode._docs()", "Internal: every documented name mapped to {signature=, text=}.") { a in
            lua_createtable(a.L, 0, Int32(a.vm.docs.count))
            for (name, d) in a.vm.docs {
                lua_createtable(a.L, 0, 2)
                lua_pushstring(a.L, d.signature); lua_setfield(a.L, -2, "signature")
                lua_pushstring(a.L, d.text); lua_setfield(a.L, -2, "text")
                lua_setfield(a.L, -2, name)
            }
            return 1
        }

        lua_createtable(L, 0, 64)              // dode
        let dodeIdx = lua_gettop(L)
        lua_createtable(L, 0, 8)               // types: name -> {methods =, mt =}
        let typesIdx = lua_gettop(L)
        for (short, meta) in LuaTypes.all {
            lua_createtable(L, 0, 2)
            lua_createtable(L, 0, 32); lua_setfield(L, -2, "methods")
            _ = dode_newmetatable(L, meta); lua_setfield(L, -2, "mt")
            lua_setfield(L, typesIdx, short)
        }
        for (i, b) in bindings.enumerated() {
            if let colon = b.name.firstIndex(of: ":") {
                let type = String(b.name[..<colon]), method = String(b.name[b.name.index(after: colon)...])
                guard let meta = LuaTypes.all.first(where: { $0.short == type })?.meta else { continue }
                let isMeta = method.hasPrefix("__") && method != "__get" && method != "__set"
                if isMeta {
                    _ = dode_newmetatable(L, meta)
                    pushBinding(i)
                    lua_setfield(L, -2, method)
                    dode_pop(L, 1)
                } else {
                    lua_getfield(L, typesIdx, type)
                    lua_getfield(L, -1, "methods")
                    pushBinding(i)
                    lua_setfield(L, -2, method)
                    dode_pop(L, 2)
                }
                continue
            }
            var parts = b.name.split(separator: ".").map(String.init)
            guard parts.first == "dode", parts.count >= 2 else { continue }
            parts.removeFirst()
            let leaf = parts.removeLast()
            lua_pushvalue(L, dodeIdx)
            for p in parts {
                if lua_getfield(L, -1, p) != LUA_TTABLE {
                    dode_pop(L, 1)
                    lua_createtable(L, 0, 8)
                    lua_pushvalue(L, -1)
                    lua_setfield(L, -3, p)
                }
                dode_remove(L, -2)
            }
            pushBinding(i)
            lua_setfield(L, -2, leaf)
            dode_pop(L, 1)
        }
        lua_pushstring(L, dodeVersion)
        lua_setfield(L, dodeIdx, "version")
        finishMPIModule(dodeIdx)
        lua_getfield(L, dodeIdx, "json")
        lua_pushlightuserdata(L, nil)
        lua_setfield(L, -2, "null")
        dode_pop(L, 1)

        // bootstrap(dode, types)
        let status = bootstrap.withCString { p in dode_loadbuffer(L, p, strlen(p), "=dode.bootstrap") }
        guard status == LUA_OK else {
            FileHandle.standardError.write(Data(("dode: bootstrap does not compile: " + popError() + "\n").utf8))
            lua_settop(L, 0)
            return
        }
        lua_pushvalue(L, dodeIdx)
        lua_pushvalue(L, typesIdx)
        if dode_pcall_traceback(L, 2, 0) != LUA_OK {
            FileHandle.standardError.write(Data(("dode: bootstrap failed: " + popError() + "\n").utf8))
        }
        lua_settop(L, 0)
    }

    /// Docs for module tables and values (the functions carry their own).
    func installModuleDocs() {
        doc("dode", "dode", """
            The dode module: tensors (dode.zeros, dode.randn, ...), files (dode.load, dode.save, dode.json), \
            timing (dode.clock). `help(dode.x)` describes any entry; `help(dode.Tensor)` lists tensor \
            methods.
            """)
        doc("dode.Tensor", "dode.Tensor", """
            Methods of tensors (x:method(...)). Float64 by default or Float32; row-major; views share \
            storage, clone copies. Indexing is 1-based: x[i] is row i (a view) or a number for 1-D tensors; \
            x[i] = v assigns. Operators + - * / ^ broadcast like numpy; math methods (x:exp()) return new \
            tensors, and the `_` forms (x:exp_()) and x:add/sub/mul/div/copy/fill work in place.
            """)
        doc("dode.json", "dode.json", "JSON encoding and decoding: dode.json.encode, dode.json.decode, dode.json.null.")
        doc("dode.version", "dode.version", "The dode version string.")
    }

    /// The reference manual as Markdown, from the same text `help` shows.
    public func referenceMarkdown() -> String {
        var out = "# dode \(dodeVersion) reference\n\n" +
                  "Generated by `dode --reference` from the same text `help()` shows.\n"
        for (name, d) in docs.sorted(by: { $0.key < $1.key }) where !name.contains(":__") && !name.hasPrefix("dode._") {
            out += "\n## `\(d.signature)`\n\n\(d.text)\n"
        }
        return out
    }
}
