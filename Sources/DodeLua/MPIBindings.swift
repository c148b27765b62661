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
            tensor (every rank must pass the same shape; the result is Float64). Sums of tensors and numbers \
            are plain Float64 sums; dode.distill.fit uses exact sums instead.
            """) { a in
            let op = try ReduceOp(rawValue: a.optString(2) ?? "sum").orThrow(a.fail(2, "'sum', 'max' or 'min'"))
            let w = World.current
            if let t = LuaArgs.tensorAt(a.L, 1) { return a.push(try w.allreduce(t, op: op)) }
            if a.isNumber(1) {
                return a.push(try w.allreduce([try a.number(1)], op: op)[0])
            }
            guard a.isTable(1), let v = LuaArgs.numberList(a.L, 1) else {
                throw a.fail(1, "a number, a list of numbers or a tensor")
            }
            try w.requireSame("list lengths", [Int64(v.count)]) { "\($0[0]) numbers" }
            return a.push(numbers: try w.allreduce(v, op: op))
        }
        def("dode.mpi.bcast", "dode.mpi.bcast(x [, root = 0])", """
            root's value on every rank: a tensor, or any JSON-encodable value (numbers, strings, booleans, \
            tables).
            """) { a in
            let w = World.current
            let root = try a.isNil(2) ? 0 : a.int(2, in: 0...(w.size - 1), "a rank in 0..\(w.size - 1)")
            // Tensor or JSON: the root decides, and tells the others first.
            var kind: Int64 = LuaArgs.tensorAt(a.L, 1) != nil ? 1 : 0
            try withUnsafeMutableBytes(of: &kind) { try w.broadcast(bytes: $0.baseAddress!, count: 8, root: root) }
            if kind == 1 {
                return a.push(try w.broadcast(w.rank == root ? try a.tensor(1) : nil, root: root))
            }
            var text = w.rank == root ? Array(try a.vm.encodeJSON(1, indent: false).utf8) : []
            var n = Int64(text.count)
            try withUnsafeMutableBytes(of: &n) { try w.broadcast(bytes: $0.baseAddress!, count: 8, root: root) }
            if w.rank != root { text = [UInt8](repeating: 0, count: Int(n)) }
            if n > 0 {
                try text.withUnsafeMutableBytes { try w.broadcast(bytes: $0.baseAddress!, count: $0.count, root: root) }
            }
            try a.vm.decodeJSON(Data(text), source: "the broadcast value")
            return 1
        }
        def("dode.mpi.gather", "dode.mpi.gather(x [, root = 0])", """
            Every rank's tensor joined along the first dimension in rank order, on root (nil on the other \
            ranks); every rank must pass the same dtype and trailing sizes. A number gives root the list of \
            every rank's number.
            """) { a in
            let w = World.current
            let root = try a.isNil(2) ? 0 : a.int(2, in: 0...(w.size - 1), "a rank in 0..\(w.size - 1)")
            if a.isNumber(1) {
                var v = try a.number(1)
                let parts = try w.gather(bytes: withUnsafeBytes(of: &v) { Array($0) }, root: root)
                guard let parts else { return a.pushNil() }
                return a.push(numbers: parts.map { $0.withUnsafeBytes { $0.load(as: Double.self) } })
            }
            guard let t = try w.gather(try a.tensor(1), root: root) else { return a.pushNil() }
            return a.push(t)
        }
        def("dode.mpi.allgather", "dode.mpi.allgather(x)", """
            Every rank's tensor joined along the first dimension in rank order, on every rank.
            """) { a in
            let w = World.current
            let t = try a.tensor(1)
            let all = try w.gather(t, root: 0)
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
            Gathers every rank's rows of x (a tensor; for .safetensors a table {name = tensor}) and writes \
            one file on rank 0 (atomically, as dode.save). Returns path on rank 0, nil elsewhere.
            """) { a in
            let path = try a.string(1)
            let w = World.current
            switch (path as NSString).pathExtension.lowercased() {
            case "npy":
                let full = try w.gather(try a.tensor(2), root: 0)
                if let full { try NPY.write(full, path: path) }
            case "safetensors":
                let parts = try a.vm.tensorTable(2, args: a)
                var full: [String: Tensor] = [:]
                for (name, t) in parts.sorted(by: { $0.key < $1.key }) { full[name] = try w.gather(t, root: 0) }
                if w.rank == 0 { try Safetensors.write(full, metadata: ["ranks": String(w.size)], path: path) }
            default:
                throw a.fail(1, "a path ending in .npy or .safetensors")
            }
            return w.rank == 0 ? a.push(path) : a.pushNil()
        }
        def("dode.mpi.print", "dode.mpi.print(...)", "print(...) on rank 0 only.") { a in
            guard World.current.rank == 0 else { return 0 }
            let L = a.L
            let n = lua_gettop(L)
            _ = dode_getglobal(L, "print")
            dode_insert(L, 1)
            if dode_pcall(L, n, 0, 0) != LUA_OK {
                throw a.error(dode_tostring(L, -1).map { String(cString: $0) } ?? "print failed")
            }
            return 0
        }
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
                lua_getfield(L, i, "_world")
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
