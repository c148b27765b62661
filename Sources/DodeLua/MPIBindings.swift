import CLua
import DodeCore
import DodeMPI
import Foundation

/// `dode.mpi` (also `dode.world`): the processes of an `mpirun` as the Lua API sees them. Ranks
/// keep MPI's numbering (0..size − 1, as mpirun and hostfiles name them); rows of a batch are
/// 1-based like every index of the Lua API. Without mpirun the world has one rank and every
/// function works (collectives return their argument).
extension LuaVM {
    func installMPIBindings() {
        doc("dode.mpi", "dode.mpi", """
            The MPI world (`mpirun -n 4 Scripts/dode script.lua` runs one dode per rank; alone, a world of \
            one). Fields: rank (0..size − 1, MPI's numbering), size, root (rank == 0), active (started by an \
            MPI launcher), library. Functions: barrier, allreduce, bcast, gather, allgather, rows, randn, \
            save, print. dode.distill.fit adds its sums over the ranks by default; metrics take {world = \
            dode.mpi}. An error on one rank ends every rank with that rank's message.
            """)
        def("dode.mpi.barrier", "dode.mpi.barrier()", "Waits until every rank has called it.") { a in
            try World.current.barrier(); return 0
        }
        def("dode.mpi.allreduce", "dode.mpi.allreduce(x [, op = 'sum' | 'max' | 'min'])", """
            Reduces x over every rank and returns the result on every rank: a number, a list of numbers or a \
            tensor (every rank must pass the same kind of value and shape; the result is Float64). Sums of \
            tensors and numbers are plain Float64 sums; dode.distill.fit uses exact sums instead.
            """) { a in
            let w = World.current
            let opName = a.isNil(2) ? "sum" : (a.isString(2) ? try a.string(2) : "")
            let op = ReduceOp(rawValue: opName)
            let kind = LuaVM.collectiveKind(a, 1)
            let list = kind == 2 ? LuaArgs.numberList(a.L, 1) : nil
            // Every rank checks the others' arguments before any data moves: a rank that passes
            // another kind of value (or a bad op) fails every rank instead of leaving them waiting.
            try w.requireSame("dode.mpi.allreduce arguments",
                              [kind, Int64(ReduceOp.allCases.firstIndex { $0 == op } ?? -1), Int64(list?.count ?? -1)],
                              describe: LuaVM.describeCollective)
            guard let op else { throw a.fail(2, "'sum', 'max' or 'min'") }
            switch kind {
            case 1: return a.push(try w.allreduce([try a.number(1)], op: op)[0])
            case 2:
                guard let list else { throw a.fail(1, "a number, a list of numbers or a tensor") }
                return a.push(numbers: try w.allreduce(list, op: op))
            case 3: return a.push(try w.allreduce(try a.tensor(1), op: op))
            default: throw a.fail(1, "a number, a list of numbers or a tensor")
            }
        }
        def("dode.mpi.bcast", "dode.mpi.bcast(x [, root = 0])", """
            root's value on every rank: a tensor, or any JSON-encodable value (numbers, strings, booleans, \
            tables). Every rank must name the same root; the other ranks' x is ignored.
            """) { a in
            let w = World.current
            let root = try a.isNil(2) ? 0 : a.int(2, in: 0...(w.size - 1), "a rank in 0..\(w.size - 1)")
            try w.requireSame("dode.mpi.bcast roots", [Int64(root)]) { "root \($0[0])" }
            // The root prepares its value, then sends its kind (1 tensor, 0 JSON, −1 an error whose
            // message follows), so a value the root cannot send fails every rank alike.
            var kind: Int64 = 0
            var payload: [UInt8] = []
            if w.rank == root {
                if LuaArgs.tensorAt(a.L, 1) != nil { kind = 1 } else {
                    do { payload = Array(try a.vm.encodeJSON(1, indent: false).utf8) } catch {
                        kind = -1
                        payload = Array("\(error)".utf8)
                    }
                }
            }
            try withUnsafeMutableBytes(of: &kind) { try w.broadcast(bytes: $0.baseAddress!, count: 8, root: root) }
            if kind == 1 { return a.push(try w.broadcast(w.rank == root ? try a.tensor(1) : nil, root: root)) }
            var n = Int64(payload.count)
            try withUnsafeMutableBytes(of: &n) { try w.broadcast(bytes: $0.baseAddress!, count: 8, root: root) }
            if w.rank != root { payload = [UInt8](repeating: 0, count: Int(n)) }
            if n > 0 {
                try payload.withUnsafeMutableBytes {
                    try w.broadcast(bytes: $0.baseAddress!, count: $0.count, root: root)
                }
            }
            if kind == -1 {
                throw a.error("rank \(root) (the root) cannot send its value: \(String(decoding: payload, as: UTF8.self))")
            }
            try a.vm.decodeJSON(Data(payload), source: "the broadcast value")
            return 1
        }
        def("dode.mpi.gather", "dode.mpi.gather(x [, root = 0])", """
            Every rank's tensor joined along the first dimension in rank order, on root (nil on the other \
            ranks); every rank must pass the same dtype and trailing sizes (a rank may have no rows). A \
            number gives root the list of every rank's number.
            """) { a in
            let w = World.current
            let root = try a.isNil(2) ? 0 : a.int(2, in: 0...(w.size - 1), "a rank in 0..\(w.size - 1)")
            let kind = LuaVM.collectiveKind(a, 1)
            try w.requireSame("dode.mpi.gather arguments", [kind, Int64(root)], describe: LuaVM.describeCollective)
            switch kind {
            case 1:
                var v = try a.number(1)
                let parts = try w.gather(bytes: withUnsafeBytes(of: &v) { Array($0) }, root: root)
                guard let parts else { return a.pushNil() }
                return a.push(numbers: parts.map { $0.withUnsafeBytes { $0.load(as: Double.self) } })
            case 3:
                guard let t = try w.gather(try a.tensor(1), root: root) else { return a.pushNil() }
                return a.push(t)
            default: throw a.fail(1, "a tensor or a number")
            }
        }
        def("dode.mpi.allgather", "dode.mpi.allgather(x)", """
            Every rank's tensor joined along the first dimension in rank order, on every rank.
            """) { a in
            let w = World.current
            try w.requireSame("dode.mpi.allgather arguments", [LuaVM.collectiveKind(a, 1)],
                              describe: LuaVM.describeCollective)
            let all = try w.gather(try a.tensor(1), root: 0)
            return a.push(try w.broadcast(all, root: 0))
        }
        def("dode.mpi.rows", "dode.mpi.rows(n)", """
            This rank's share of a global batch of n rows: the first row (1-based) and the count. Shares are \
            contiguous, in rank order, and differ in size by at most one.
            """) { a in
            let r = World.current.rows(of: try a.nonNegativeInt(1))
            return a.push(r.lowerBound + 1) + a.push(r.count)
        }
        def("dode.mpi.randn", "dode.mpi.randn(g, n, d2, ... [, {dtype =, offset =}])", """
            This rank's rows of dode.randn(g, n, d2, ...): the same values whatever the number of ranks (a \
            row depends only on the seed, g's counter and its index), and g advances by one draw on every \
            rank, as the full draw would.
            """) { a in
            let g = try a.generator(1)
            let (shape, next) = try a.shape(from: 2)
            let o = try a.options(next, allowed: ["dtype", "offset"])
            let off = try o.int("offset", in: 0...Int(Int32.max), "a non-negative integer") ?? 0
            let r = World.current.rows(of: shape[0])
            return a.push(try g.randn([r.count] + shape.dropFirst(), dtype: try o.dtype() ?? .float64,
                                      offset: off + r.lowerBound))
        }
        def("dode.mpi.save", "dode.mpi.save(path, x)", """
            Gathers every rank's rows of x (a tensor; for .safetensors a table {name = tensor}, the same names \
            on every rank) and writes one file on rank 0 (atomically, as dode.save). Returns path on rank 0, \
            nil elsewhere.
            """) { a in
            let w = World.current
            let path = a.isString(1) ? try a.string(1) : ""
            let ext = (path as NSString).pathExtension.lowercased()
            let names = ext == "safetensors" && a.isTable(2) ? (try? a.vm.tensorTable(2, args: a))?.keys.sorted() : nil
            // The kind of file and the tensor names must agree before anything is gathered.
            var signature: [Int64] = [ext == "npy" ? 1 : ext == "safetensors" ? 2 : 0, Int64(names?.count ?? -1)]
            signature += (names ?? []).map { name in var h = FNV1a(); h.add(name); return h.signed }
            try w.requireSame("dode.mpi.save arguments (kind of file, tensor names)", signature) { s in
                let kind = s[0] == 1 ? ".npy" : s[0] == 2 ? ".safetensors" : "another path"
                return "\(kind) with \(s[1] < 0 ? "no table" : "\(s[1]) named tensors")"
            }
            switch ext {
            case "npy":
                let full = try w.gather(try a.tensor(2), root: 0)
                if let full { try NPY.write(full, path: path) }
            case "safetensors":
                let parts = try a.vm.tensorTable(2, args: a)
                var full: [String: Tensor] = [:]
                for (name, t) in parts.sorted(by: { $0.key < $1.key }) { full[name] = try w.gather(t, root: 0) }
                if w.rank == 0 { try Safetensors.write(full, path: path) }
            default:
                throw a.fail(1, "a path ending in .npy or .safetensors")
            }
            return w.rank == 0 ? a.push(path) : a.pushNil()
        }
        def("dode.mpi.print", "dode.mpi.print(...)", "print(...) on rank 0 only.") { a in
            guard World.current.rank == 0 else { return 0 }
            let L = a.L
            let n = lua_gettop(L)
            _ = dode_rawgetglobal(L, "print")
            dode_insert(L, 1)
            if dode_pcall(L, n, 0, 0) != LUA_OK {
                throw a.error(dode_tostring(L, -1).map { String(cString: $0) } ?? "print failed")
            }
            return 0
        }
    }

    /// The kind of the value at `i` for a collective's argument check: 1 number, 2 table,
    /// 3 tensor, 0 anything else.
    static func collectiveKind(_ a: LuaArgs, _ i: Int32) -> Int64 {
        if LuaArgs.tensorAt(a.L, i) != nil { return 3 }
        if a.isNumber(i) { return 1 }
        return a.isTable(i) ? 2 : 0
    }

    static func describeCollective(_ s: [Int64]) -> String {
        let kinds = ["another value", "a number", "a table", "a tensor"]
        let dims = s.dropFirst().map(String.init).joined(separator: ", ")
        return (s[0] >= 0 && s[0] < 4 ? kinds[Int(s[0])] : "?") + (s.count > 1 ? " (\(dims))" : "")
    }

    /// Sets the fields of `dode.mpi` and the alias `dode.world` (after the module table exists).
    func finishMPIModule(_ dodeIdx: Int32) {
        let w = World.current
        lua_getfield(L, dodeIdx, "mpi")
        lua_pushinteger(L, lua_Integer(w.rank)); lua_setfield(L, -2, "rank")
        lua_pushinteger(L, lua_Integer(w.size)); lua_setfield(L, -2, "size")
        lua_pushboolean(L, w.rank == 0 ? 1 : 0); lua_setfield(L, -2, "root")
        lua_pushboolean(L, w is MPIWorld ? 1 : 0); lua_setfield(L, -2, "active")
        lua_pushstring(L, (w as? MPIWorld)?.library ?? "none"); lua_setfield(L, -2, "library")
        lua_pushboolean(L, 1); lua_setfield(L, -2, "_world")
        lua_setfield(L, dodeIdx, "world")
    }

    /// A `world` option: `dode.mpi` (or true) is the process's world, false this process alone;
    /// absent means the process's world when it has more than one rank if `byDefault` (fits),
    /// else this process alone (metrics, whose inputs may be whole sets on every rank).
    func worldOption(_ o: LuaOptions, byDefault: Bool = true) throws -> Communicator? {
        try o.with("world") { i in
            switch lua_type(L, i) {
            case LUA_TNIL, LUA_TNONE: return byDefault && World.current.size > 1 ? World.current : nil
            case LUA_TBOOLEAN: return lua_toboolean(L, i) != 0 ? World.current : nil
            case LUA_TTABLE:
                _ = dode_rawgetfield(L, i, "_world")
                defer { dode_pop(L, 1) }
                if lua_toboolean(L, -1) != 0 { return World.current }
            default: break
            }
            throw o.fail("world", "dode.mpi, true or false")
        }
    }
}

extension Optional {
    func orThrow(_ e: @autoclosure () -> Error) throws -> Wrapped {
        guard let v = self else { throw e() }
        return v
    }
}
