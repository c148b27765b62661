import CLua
import DodeTensor
import Foundation

/// `dode.*` tensor constructors and the `dode.Tensor` methods. Indices and dimensions are
/// 1-based in Lua and converted here.
extension LuaVM {
    func installTensorBindings() {
        // MARK: constructors
        def("dode.zeros", "dode.zeros(d1, d2, ... [, {dtype=}]) or dode.zeros({d1, ...} [, opts])", """
            A new zero tensor (Float64 unless `dtype = 'float32'`).
            """) { a in
            let (shape, next) = try a.shape(from: 1)
            let o = try a.options(next, allowed: ["dtype"])
            return a.push(try Tensor(zeros: shape, dtype: try o.dtype() ?? .float64))
        }
        def("dode.ones", "dode.ones(d1, d2, ... [, {dtype=}])", "A new tensor of ones.") { a in
            let (shape, next) = try a.shape(from: 1)
            let o = try a.options(next, allowed: ["dtype"])
            return a.push(try Tensor.full(shape, 1, dtype: try o.dtype() ?? .float64))
        }
        def("dode.full", "dode.full({d1, ...}, value [, {dtype=}])", "A new tensor filled with `value`.") { a in
            let (shape, next) = try a.shape(from: 1)
            let v = try a.number(next)
            let o = try a.options(next + 1, allowed: ["dtype"])
            return a.push(try Tensor.full(shape, v, dtype: try o.dtype() ?? .float64))
        }
        def("dode.linspace", "dode.linspace(a, b, n [, {dtype=}])",
            "`n` evenly spaced values from a to b inclusive.") { a in
            let lo = try a.finite(1), hi = try a.finite(2), n = try a.nonNegativeInt(3)
            let o = try a.options(4, allowed: ["dtype"])
            return a.push(try Tensor.linspace(lo, hi, n, dtype: try o.dtype() ?? .float64))
        }
        def("dode.arange", "dode.arange(a, b [, step [, {dtype=}]])", """
            Values a, a+step, ... strictly below b (numpy's arange; step defaults to 1).
            """) { a in
            let lo = try a.finite(1), hi = try a.finite(2)
            var next: Int32 = 3
            var step = 1.0
            if a.isNumber(3) { step = try a.finite(3); next = 4 }
            guard step != 0 else { throw a.fail(3, "a non-zero step") }
            let o = try a.options(next, allowed: ["dtype"])
            return a.push(try Tensor.arange(lo, hi, step, dtype: try o.dtype() ?? .float64))
        }
        def("dode.eye", "dode.eye(n [, {dtype=}])", "The n×n identity matrix.") { a in
            let n = try a.nonNegativeInt(1)
            let o = try a.options(2, allowed: ["dtype"])
            return a.push(try Tensor.eye(n, dtype: try o.dtype() ?? .float64))
        }
        def("dode.tensor", "dode.tensor(values [, {dtype=}])", """
            A tensor from a number or nested tables of numbers (rectangular), e.g. `dode.tensor{{1, 2}, {3, \
            4}}`.
            """) { a in
            guard a.isTable(1) || a.isNumber(1) else { throw a.fail(1, "a number or a nested table of numbers") }
            let o = try a.options(2, allowed: ["dtype"])
            var shape: [Int] = []
            var values: [Double] = []
            try a.vm.readNested(1, depth: 0, shape: &shape, values: &values, args: a)
            guard values.count == shape.reduce(1, *) else { throw a.error("argument 1 is not rectangular") }
            return a.push(try Tensor(values, shape: shape, dtype: try o.dtype() ?? .float64))
        }
        def("dode.cat", "dode.cat({t1, t2, ...} [, dim])", "Concatenation along `dim` (default 1).") { a in
            let ts = try a.vm.tensorList(1, args: a)
            let dim = a.isNil(2) ? 1 : try a.positiveInt(2)
            return a.push(try Tensor.cat(ts, dim: dim - 1))
        }
        def("dode.stack", "dode.stack({t1, t2, ...})",
            "Stacks equal-shaped tensors along a new first dimension.") { a in
            a.push(try Tensor.stack(try a.vm.tensorList(1, args: a)))
        }
        def("dode.mm", "dode.mm(a, b)", "Matrix product of two 2-D tensors (OpenBLAS).") { a in
            a.push(try Tensor.matmul(try a.tensor(1), try a.tensor(2)))
        }
        def("dode.is_tensor", "dode.is_tensor(x)", "True when x is a dode.Tensor.") { a in
            a.push(a.isTensor(1))
        }

        // MARK: randomness
        def("dode.Generator", "dode.Generator(seed)", """
            An explicit, seeded, counter-based (Philox-4x32-10) generator. Row i of a draw depends only on \
            the seed, the draw counter and i.
            """) { a in
            let seed = try a.int(1, in: 0...Int.max, "a non-negative integer seed")
            a.vm.push(Generator(seed: UInt64(seed)))
            return 1
        }
        for (kind, text) in [("randn", "standard normal"), ("rand", "uniform (0, 1)")] {
            def("dode.\(kind)", "dode.\(kind)(g, d1, d2, ... [, {dtype=, offset=}])", """
                A tensor of \(text) samples from generator g. Row i (1-based) depends only on the seed, g's \
                draw counter and i, so the same rows come out whatever the first size; `offset = k` starts \
                at row k + 1. Advances g's counter by one.
                """) { a in
                let g = try a.generator(1)
                let (shape, next) = try a.shape(from: 2)
                let o = try a.options(next, allowed: ["dtype", "offset"])
                let off = try o.int("offset", in: 0...Int(Int32.max), "a non-negative integer") ?? 0
                let t = kind == "randn" ? try g.randn(shape, dtype: try o.dtype() ?? .float64, offset: off)
                                        : try g.rand(shape, dtype: try o.dtype() ?? .float64, offset: off)
                return a.push(t)
            }
        }
        def("Generator:seed", "g:seed()", "The generator's seed.") { a in
            a.push(Int(truncatingIfNeeded: try a.generator(1).seed))
        }
        def("Generator:counter", "g:counter()", "Number of draws made so far.") { a in
            a.push(Int(truncatingIfNeeded: try a.generator(1).counter))
        }
        def("Generator:__tostring", "tostring(g)", "") { a in
            let g = try a.generator(1)
            return a.push("dode.Generator(seed \(g.seed), draws \(g.counter))")
        }

        installTensorShapeMethods()
        installTensorMathMethods()
        installTensorMetamethods()
    }

    /// Reads nested Lua tables of numbers into a flat array and a shape.
    func readNested(_ idx: Int32, depth: Int, shape: inout [Int], values: inout [Double], args a: LuaArgs) throws {
        if lua_type(L, idx) == LUA_TNUMBER {
            if depth < shape.count || (depth > 0 && shape.count < depth) {
                throw a.error("argument 1 is not rectangular (a number where a table was expected)")
            }
            values.append(dode_tonumber(L, idx))
            if values.count > TensorLimits.maxBytes / 8 { throw a.error("argument 1 is larger than the size cap") }
            return
        }
        guard lua_type(L, idx) == LUA_TTABLE else {
            throw a.error("argument 1 must contain only numbers and tables (found \(LuaArgs.describe(L, idx)))")
        }
        guard depth < LuaArgs.maxRank else {
            throw a.error("argument 1 is nested deeper than \(LuaArgs.maxRank) levels")
        }
        let n = Int(lua_rawlen(L, idx))
        if depth == shape.count { shape.append(n) }
        else if shape[depth] != n {
            throw a.error("argument 1 is not rectangular " +
                          "(rows of length \(shape[depth]) and \(n) at depth \(depth + 1))")
        }
        let abs = lua_absindex(L, idx)
        for k in 0..<n {
            lua_rawgeti(L, abs, lua_Integer(k + 1))
            do { try readNested(lua_gettop(L), depth: depth + 1, shape: &shape, values: &values, args: a) }
            catch { dode_pop(L, 1); throw error }
            dode_pop(L, 1)
        }
        if n == 0 && depth + 1 < shape.count { throw a.error("argument 1 is not rectangular") }
    }

    /// Reads a Lua sequence of tensors.
    func tensorList(_ idx: Int32, args a: LuaArgs) throws -> [Tensor] {
        try a.table(idx, "a table of tensors")
        let n = Int(lua_rawlen(L, idx))
        guard n >= 1 else { throw a.fail(idx, "a non-empty table of tensors") }
        var out: [Tensor] = []
        for k in 1...n {
            lua_rawgeti(L, idx, lua_Integer(k))
            let t = LuaArgs.tensorAt(L, -1)
            dode_pop(L, 1)
            guard let t else {
                throw a.error("\(a.label(idx)) must be a table of tensors (entry \(k) is not a tensor)")
            }
            out.append(t)
        }
        return out
    }

    /// Pushes a tensor's values as nested Lua tables.
    func pushNested(_ t: Tensor) {
        _ = lua_checkstack(L, 4)   // one table per dimension (rank ≤ 16)
        if t.rank == 0 { lua_pushnumber(L, t.item); return }
        lua_createtable(L, Int32(min(t.shape[0], Int(Int32.max))), 0)
        if t.rank == 1 {
            let v = t.toArray()
            for (i, x) in v.enumerated() { lua_pushnumber(L, x); lua_rawseti(L, -2, lua_Integer(i + 1)) }
            return
        }
        for i in 0..<t.shape[0] {
            pushNested(t.selectUnchecked0(i))
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
    }
}

extension Tensor {
    /// Row i along dim 0, for an index already validated.
    func selectUnchecked0(_ i: Int) -> Tensor {
        Tensor(storage: storage, offset: offset + i * strides[0], shape: Array(shape.dropFirst()),
               strides: Array(strides.dropFirst()))
    }
}
