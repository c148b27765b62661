import CLua
import DodeTensor
import Foundation

/// Files (`dode.load`, `dode.save`, `dode.json.*`) and process utilities (`dode.clock`,
/// `dode.threads`, `dode.limits`). Writes are atomic: temporary file, fsync, rename.
extension LuaVM {
    func installIOBindings() {
        def("dode.load", "dode.load(path)", """
            Reads a file by its extension: `.npy` gives a tensor; `.safetensors` a table {name = tensor} \
            (and the metadata table as a second result); `.json` the decoded value.
            """) { a in
            let path = try a.string(1)
            do {
                switch (path as NSString).pathExtension.lowercased() {
                case "npy": return a.push(try NPY.read(path: path))
                case "safetensors":
                    let f = try Safetensors.read(path: path)
                    lua_createtable(a.L, 0, Int32(f.tensors.count))
                    for (name, t) in f.tensors.sorted(by: { $0.key < $1.key }) {
                        a.vm.push(t)
                        lua_setfield(a.L, -2, name)
                    }
                    lua_createtable(a.L, 0, Int32(f.metadata.count))
                    for (k, v) in f.metadata { lua_pushstring(a.L, v); lua_setfield(a.L, -2, k) }
                    return 2
                case "json":
                    try a.vm.decodeJSON(try AtomicFile.read(path), source: "'\(path)'")
                    return 1
                default:
                    throw a.fail(1, "a path ending in .npy, .safetensors or .json")
                }
            } catch let e as TensorError { throw a.error(e.message) }
        }
        def("dode.save", "dode.save(path, value [, {metadata=}])", """
            Writes a file by its extension (atomically): `.npy` takes a tensor, `.safetensors` a table {name \
            = tensor} (Float32/Float64; `metadata` a table of strings), `.json` any JSON-encodable value.
            """) { a in
            let path = try a.string(1)
            let ext = (path as NSString).pathExtension.lowercased()
            do {
                switch ext {
                case "npy":
                    try NPY.write(try a.tensor(2), path: path)
                    _ = try a.options(3, allowed: [])
                case "safetensors":
                    let tensors = try a.vm.tensorTable(2, args: a)
                    let o = try a.options(3, allowed: ["metadata"])
                    var meta: [String: String] = [:]
                    if o.has("metadata") {
                        try o.with("metadata") { i in
                            guard lua_type(a.L, i) == LUA_TTABLE else { throw o.fail("metadata", "a table of strings") }
                            lua_pushnil(a.L)
                            while lua_next(a.L, i) != 0 {
                                let ok = lua_type(a.L, -2) == LUA_TSTRING && lua_type(a.L, -1) == LUA_TSTRING
                                if ok {
                                    let key = String(cString: dode_tostring(a.L, -2))
                                    meta[key] = String(cString: dode_tostring(a.L, -1))
                                }
                                dode_pop(a.L, 1)
                                if !ok {
                                    dode_pop(a.L, 1)
                                    throw o.fail("metadata", "a table mapping strings to strings")
                                }
                            }
                        }
                    }
                    try Safetensors.write(tensors, metadata: meta, path: path)
                case "json":
                    let o = try a.options(3, allowed: ["indent"])
                    let text = try a.vm.encodeJSON(2, indent: try o.bool("indent") ?? true)
                    try AtomicFile.write(Data((text + "\n").utf8), to: path)
                default:
                    throw a.fail(1, "a path ending in .npy, .safetensors or .json")
                }
            } catch let e as TensorError { throw a.error(e.message) }
            return 0
        }
        def("dode.write_text", "dode.write_text(path, text)", """
            Writes text to a file atomically (a temporary file in the same folder, flushed to disk, then \
            renamed over path), so an interrupted run never leaves a half-written file. Returns path.
            """) { a in
            let path = try a.string(1), text = try a.string(2)
            guard !path.isEmpty else { throw a.fail(1, "a file path") }
            do { try AtomicFile.write(Data(text.utf8), to: path) }
            catch let e as TensorError { throw a.error(e.message) }
            return a.push(path)
        }
        def("dode.json.decode", "dode.json.decode(text)", "Decodes JSON text (null becomes dode.json.null).") { a in
            try a.vm.decodeJSON(Data(try a.string(1).utf8), source: "the text")
            return 1
        }
        def("dode.json.encode", "dode.json.encode(value [, {indent=false}])", """
            Encodes a Lua value (tables, numbers, strings, booleans, tensors, dode.json.null) as JSON text \
            with sorted keys.
            """) { a in
            let o = try a.options(2, allowed: ["indent"])
            return a.push(try a.vm.encodeJSON(1, indent: try o.bool("indent") ?? false))
        }
        def("dode.clock", "dode.clock()", "Monotonic wall-clock time in seconds, for timing inside scripts.") { a in
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return a.push(Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9)
        }
        def("dode.threads", "dode.threads([n])", """
            Gets (or sets to n) the number of worker threads for batch work and OpenBLAS. Results do not \
            depend on it.
            """) { a in
            if !a.isNil(1) {
                let n = try a.int(1, in: 1...64, "an integer in 1..64")
                Parallel.threads = n
                BLAS.setThreads(n)
            }
            return a.push(Parallel.threads)
        }
        def("dode.isatty", "dode.isatty([fd = 2])", """
            True when the file descriptor (0 stdin, 1 stdout, 2 stderr) is a terminal (progress bars redraw \
            in place only then).
            """) { a in
            let fd = a.isNil(1) ? 2 : try a.int(1, in: 0...2, "0, 1 or 2")
            return a.push(isatty(Int32(fd)) != 0)
        }
        def("dode.write_stderr", "dode.write_stderr(text)", """
            Writes text to standard error unbuffered (for progress output).
            """) { a in
            let s = try a.string(1)
            FileHandle.standardError.write(Data(s.utf8))
            return 0
        }
        def("dode.limits", "dode.limits([{max_bytes=}])", """
            Returns {max_bytes=, live_bytes=}; `max_bytes` sets the cap on one tensor's size (default: half \
            the physical memory), checked before allocating.
            """) { a in
            let o = try a.options(1, allowed: ["max_bytes"])
            if let m = try o.int("max_bytes", in: 0...Int.max, "a non-negative integer") { TensorLimits.maxBytes = m }
            lua_createtable(a.L, 0, 2)
            lua_pushinteger(a.L, lua_Integer(TensorLimits.maxBytes)); lua_setfield(a.L, -2, "max_bytes")
            lua_pushinteger(a.L, lua_Integer(TensorLimits.liveBytes)); lua_setfield(a.L, -2, "live_bytes")
            return 1
        }
        def("dode._exit", "os.exit([code = true])", """
            Ends the program with status code (true = 0, false = 1). Refused inside a function dode calls \
            back (a denoiser, a solver update, a step callback): return or raise an error there instead. \
            Under mpirun the rank leaves MPI properly first.
            """) { a in
            guard a.vm.callbackDepth == 0 else {
                throw LuaError("os.exit: not allowed inside a function dode is calling " +
                               "(a denoiser, solver or callback); raise an error instead")
            }
            let code: Int32
            switch a.type(1) {
            case LUA_TNONE, LUA_TNIL: code = 0
            case LUA_TBOOLEAN: code = lua_toboolean(a.L, 1) != 0 ? 0 : 1
            default: code = Int32(truncatingIfNeeded: try a.int(1, "an exit status (integer or boolean)"))
            }
            fflush(stdout)
            if let h = a.vm.exitHandler { h(code) }
            exit(code)
        }
        def("dode._stdlib_source", "dode._stdlib_source(name)", """
            Internal: the source and chunk name of a Stdlib module (from DODE_STDLIB when set, else \
            embedded).
            """) { a in
            let name = try a.string(1)
            if let dir = ProcessInfo.processInfo.environment["DODE_STDLIB"], !dir.isEmpty {
                let rel = name.replacingOccurrences(of: ".", with: "/")
                for cand in [rel + ".lua", rel + "/init.lua"] {
                    let path = dir + "/" + cand
                    if let d = FileManager.default.contents(atPath: path) {
                        _ = a.push(String(decoding: d, as: UTF8.self))
                        _ = a.push("@" + path)
                        return 2
                    }
                }
            }
            guard let m = EmbeddedStdlib.modules[name] else { return a.pushNil() }
            _ = a.push(m.source)
            _ = a.push(m.chunk)
            return 2
        }
    }
}

extension LuaVM {
    /// A table {name = tensor} at stack index i.
    func tensorTable(_ i: Int32, args a: LuaArgs) throws -> [String: Tensor] {
        try a.table(i, "a table {name = tensor}")
        var tensors: [String: Tensor] = [:]
        lua_pushnil(a.L)
        while lua_next(a.L, i) != 0 {
            let key = lua_type(a.L, -2) == LUA_TSTRING ? String(cString: dode_tostring(a.L, -2)) : nil
            let t = LuaArgs.tensorAt(a.L, -1)
            dode_pop(a.L, 1)
            guard let key, let t else {
                dode_pop(a.L, 1)
                throw a.fail(i, "a table mapping string names to tensors")
            }
            tensors[key] = t
        }
        return tensors
    }
}
