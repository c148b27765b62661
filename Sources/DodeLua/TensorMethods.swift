import CLua
import DodeTensor
import Foundation

/// Methods of `dode.Tensor` that describe, view and convert it: shape, size, views, dtype
/// conversions, indexing helpers. (Math: TensorMathMethods.swift; operators: TensorMetamethods.swift.)
extension LuaVM {
    func installTensorShapeMethods() {
        def("Tensor:shape", "x:shape()", "The shape as a table of sizes.") { a in a.push(ints: try a.tensor(1).shape) }
        def("Tensor:size", "x:size([dim])", "Size of dimension `dim` (1-based), or the shape as a table.") { a in
            let t = try a.tensor(1)
            if a.isNil(2) { return a.push(ints: t.shape) }
            return a.push(t.shape[try a.index(2, size: t.rank, what: "a dimension")])
        }
        def("Tensor:dim", "x:dim()", "Number of dimensions.") { a in a.push(try a.tensor(1).rank) }
        def("Tensor:numel", "x:numel()", "Number of elements.") { a in a.push(try a.tensor(1).count) }
        def("Tensor:dtype", "x:dtype()", "'float64' or 'float32'.") { a in a.push(try a.tensor(1).dtype.rawValue) }
        def("Tensor:clone", "x:clone()", "A contiguous copy that shares nothing with x.") { a in
            a.push(try a.tensor(1).clone())
        }
        def("Tensor:contiguous", "x:contiguous()", "x itself when contiguous, else a contiguous copy.") { a in
            a.push(try a.tensor(1).contiguous())
        }
        def("Tensor:is_contiguous", "x:is_contiguous()", "True when x is dense row-major.") { a in
            a.push(try a.tensor(1).isContiguous)
        }
        def("Tensor:double", "x:double()", "A Float64 copy.") { a in a.push(try a.tensor(1).clone(dtype: .float64)) }
        def("Tensor:float", "x:float()", "A Float32 copy.") { a in a.push(try a.tensor(1).clone(dtype: .float32)) }
        def("Tensor:reshape", "x:reshape(d1, d2, ...) or x:reshape({d1, ...})", """
            A view with a new shape (one size may be -1); a non-contiguous x is copied first.
            """) { a in
            let t = try a.tensor(1)
            var shape: [Int] = []
            if a.isTable(2) {
                let n = Int(lua_rawlen(a.L, 2))
                guard n >= 1 && n <= LuaArgs.maxRank else {
                    throw a.fail(2, "a shape table of 1 to \(LuaArgs.maxRank) sizes")
                }
                for k in 1...n {
                    lua_rawgeti(a.L, 2, lua_Integer(k))
                    let ok = lua_type(a.L, -1) == LUA_TNUMBER
                    let v = ok ? dode_tonumber(a.L, -1) : .nan
                    dode_pop(a.L, 1)
                    guard ok, v == v.rounded(), v >= -1, v < 9e15 else {
                        throw a.fail(2, "a shape table of integers (-1 for one inferred size)")
                    }
                    shape.append(Int(v))
                }
            } else {
                var k: Int32 = 2
                while !a.isNil(k) {
                    guard shape.count < LuaArgs.maxRank else { throw a.fail(k, "at most \(LuaArgs.maxRank) sizes") }
                    let v = try a.int(k, "an integer size (-1 for one inferred size)")
                    guard v >= -1 else { throw a.fail(k, "an integer size (-1 for one inferred size)") }
                    shape.append(v)
                    k += 1
                }
                guard !shape.isEmpty else { throw a.fail(2, "a size") }
            }
            return a.push(try t.reshape(shape))
        }
        def("Tensor:view", "x:view(...)", "Same as reshape.") { a in
            try a.vm.callBinding("Tensor:reshape", a)
        }
        def("Tensor:narrow", "x:narrow(dim, start, length)", """
            A view of `length` elements from `start` (1-based) along `dim`.
            """) { a in
            let t = try a.tensor(1)
            guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
            let d = try a.index(2, size: t.rank, what: "a dimension")
            let s = try a.index(3, size: t.shape[d] + 1, what: "a start index")
            let n = try a.int(4, in: 0...(t.shape[d] - s), "a length in 0..\(t.shape[d] - s)")
            return a.push(try t.narrow(d, s, n))
        }
        def("Tensor:select", "x:select(dim, index)", """
            The slice at `index` (1-based) along `dim`; the dimension is removed.
            """) { a in
            let t = try a.tensor(1)
            guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
            let d = try a.index(2, size: t.rank, what: "a dimension")
            let i = try a.index(3, size: t.shape[d])
            return a.push(try t.select(d, i))
        }
        def("Tensor:transpose", "x:transpose([d1, d2])",
            "Swaps two dimensions (default 1 and 2) without copying.") { a in
            let t = try a.tensor(1)
            guard t.rank >= 1 else { throw a.fail(1, "a tensor with at least one dimension") }
            let d1 = a.isNil(2) ? 0 : try a.index(2, size: t.rank, what: "a dimension")
            let d2 = a.isNil(3) ? min(1, t.rank - 1) : try a.index(3, size: t.rank, what: "a dimension")
            return a.push(try t.transpose(d1, d2))
        }
        def("Tensor:t", "x:t()", "Transpose of a 2-D tensor (a view).") { a in
            let t = try a.tensor(1)
            guard t.rank == 2 else { throw a.fail(1, "a 2-D tensor") }
            return a.push(try t.transpose(0, 1))
        }
        def("Tensor:index", "x:index(indices)", """
            Rows (dimension 1) at the given 1-based indices, as a new tensor; `indices` is a table or \
            tensor.
            """) { a in
            let t = try a.tensor(1)
            guard t.rank >= 1 else { throw a.fail(1, "a tensor with at least one dimension") }
            var idx: [Double] = []
            if let it = LuaArgs.tensorAt(a.L, 2) { idx = it.toArray() }
            else if a.isTable(2) {
                let n = Int(lua_rawlen(a.L, 2))
                for k in 0..<n {
                    lua_rawgeti(a.L, 2, lua_Integer(k + 1))
                    idx.append(lua_type(a.L, -1) == LUA_TNUMBER ? dode_tonumber(a.L, -1) : .nan)
                    dode_pop(a.L, 1)
                }
            } else { throw a.fail(2, "a table or tensor of indices") }
            var out: [Int] = []
            for v in idx {
                guard v == v.rounded(), v >= 1, v <= Double(t.shape[0]) else {
                    throw a.error("argument 1 must hold indices in 1..\(t.shape[0]) (got \(LuaArgs.formatNumber(v)))")
                }
                out.append(Int(v) - 1)
            }
            return a.push(try t.indexSelect(out))
        }
        def("Tensor:totable", "x:totable()", "The values as nested Lua tables (a number for a 0-D tensor).") { a in
            a.vm.pushNested(try a.tensor(1)); return 1
        }
        def("Tensor:item", "x:item()", "The value of a one-element tensor.") { a in
            let t = try a.tensor(1)
            guard t.count == 1 else { throw a.fail(1, "a one-element tensor") }
            return a.push(t.item)
        }
    }

    /// Calls another registered binding with the same arguments (for aliases).
    func callBinding(_ name: String, _ a: LuaArgs) throws -> Int32 {
        guard let e = bindings.first(where: { $0.name == name }) else { return 0 }
        return try e.fn(LuaArgs(L: a.L, vm: self, name: a.name, isMethod: a.isMethod))
    }
}
