import CLua
import DodeTensor
import Foundation

/// Methods of `dode.Tensor`. Math methods (`x:exp()`) return new tensors; the in-place forms
/// (`x:add(y, alpha)`, `x:mul(a)`, `x:copy(y)`, `x:fill(v)`, `x:exp_()`) modify x and return it,
/// for allocation-free loops.
extension LuaVM {
    func installTensorMethods() {
        def("Tensor:shape", "x:shape()", "The shape as a table of sizes.") { a in a.push(ints: try a.tensor(1).shape) }
        def("Tensor:size", "x:size([dim])", "Size of dimension `dim` (1-based), or the shape as a table.") { a in
            let t = try a.tensor(1)
            if a.isNil(2) { return a.push(ints: t.shape) }
            return a.push(t.shape[try a.index(2, size: t.rank, what: "a dimension")])
        }
        def("Tensor:dim", "x:dim()", "Number of dimensions.") { a in a.push(try a.tensor(1).rank) }
        def("Tensor:numel", "x:numel()", "Number of elements.") { a in a.push(try a.tensor(1).count) }
        def("Tensor:dtype", "x:dtype()", "'float64' or 'float32'.") { a in a.push(try a.tensor(1).dtype.rawValue) }
        def("Tensor:clone", "x:clone()", "A contiguous copy that shares nothing with x.") { a in a.push(try a.tensor(1).clone()) }
        def("Tensor:contiguous", "x:contiguous()", "x itself when contiguous, else a contiguous copy.") { a in a.push(try a.tensor(1).contiguous()) }
        def("Tensor:is_contiguous", "x:is_contiguous()", "True when x is dense row-major.") { a in a.push(try a.tensor(1).isContiguous) }
        def("Tensor:double", "x:double()", "A Float64 copy.") { a in a.push(try a.tensor(1).clone(dtype: .float64)) }
        def("Tensor:float", "x:float()", "A Float32 copy.") { a in a.push(try a.tensor(1).clone(dtype: .float32)) }
        def("Tensor:reshape", "x:reshape(d1, d2, ...) or x:reshape({d1, ...})",
            "A view with a new shape (one size may be -1); a non-contiguous x is copied first.") { a in
            let t = try a.tensor(1)
            var shape: [Int] = []
            if a.isTable(2) {
                let n = Int(lua_rawlen(a.L, 2))
                guard n >= 1 && n <= LuaArgs.maxRank else { throw a.fail(2, "a shape table of 1 to \(LuaArgs.maxRank) sizes") }
                for k in 1...n {
                    lua_rawgeti(a.L, 2, lua_Integer(k))
                    let ok = lua_type(a.L, -1) == LUA_TNUMBER
                    let v = ok ? dode_tonumber(a.L, -1) : .nan
                    dode_pop(a.L, 1)
                    guard ok, v == v.rounded(), v >= -1, v < 9e15 else { throw a.fail(2, "a shape table of integers (-1 for one inferred size)") }
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
        def("Tensor:narrow", "x:narrow(dim, start, length)",
            "A view of `length` elements from `start` (1-based) along `dim`.") { a in
            let t = try a.tensor(1)
            guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
            let d = try a.index(2, size: t.rank, what: "a dimension")
            let s = try a.index(3, size: t.shape[d] + 1, what: "a start index")
            let n = try a.int(4, in: 0...(t.shape[d] - s), "a length in 0..\(t.shape[d] - s)")
            return a.push(try t.narrow(d, s, n))
        }
        def("Tensor:select", "x:select(dim, index)", "The slice at `index` (1-based) along `dim`; the dimension is removed.") { a in
            let t = try a.tensor(1)
            guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
            let d = try a.index(2, size: t.rank, what: "a dimension")
            let i = try a.index(3, size: t.shape[d])
            return a.push(try t.select(d, i))
        }
        def("Tensor:transpose", "x:transpose([d1, d2])", "Swaps two dimensions (default 1 and 2) without copying.") { a in
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
        def("Tensor:index", "x:index(indices)", "Rows (dimension 1) at the given 1-based indices, as a new tensor; `indices` is a table or tensor.") { a in
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

        // MARK: reductions
        for kind in ["sum", "mean", "max", "min", "norm"] {
            def("Tensor:\(kind)", "x:\(kind)([dim [, keepdim]])",
                "The \(kind) of all elements (a number), or along `dim` (a tensor). Sums accumulate in Float64.") { a in
                let t = try a.tensor(1)
                if a.isNil(2) {
                    switch kind {
                    case "sum": return a.push(t.sum())
                    case "mean": return a.push(t.mean())
                    case "max": return a.push(t.max())
                    case "min": return a.push(t.min())
                    default: return a.push(t.norm())
                    }
                }
                guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
                let d = try a.index(2, size: t.rank, what: "a dimension")
                let keep = a.isNil(3) ? false : try a.bool(3)
                return a.push(try t.reduce(Tensor.Reduction(rawValue: kind)!, dim: d, keepdim: keep))
            }
        }
        for kind in ["argmax", "argmin"] {
            def("Tensor:\(kind)", "x:\(kind)(dim)", "1-based indices of the \(kind == "argmax" ? "largest" : "smallest") elements along `dim`.") { a in
                let t = try a.tensor(1)
                guard t.rank > 0 else { throw a.fail(1, "a tensor with at least one dimension") }
                let d = try a.index(2, size: t.rank, what: "a dimension")
                let r = try t.reduce(kind == "argmax" ? .argmax : .argmin, dim: d)
                r.apply(.add, scalar: 1)
                return a.push(r)
            }
        }
        def("Tensor:dot", "x:dot(y)", "Σ x·y over all elements (shapes must match; Float64 accumulation).") { a in
            a.push(try a.tensor(1).dot(try a.tensor(2)))
        }
        def("Tensor:mm", "x:mm(y)", "Matrix product (OpenBLAS).") { a in
            a.push(try Tensor.matmul(try a.tensor(1), try a.tensor(2)))
        }
        def("Tensor:has_nonfinite", "x:has_nonfinite()", "True when any element is NaN or ±inf.") { a in
            a.push(try a.tensor(1).hasNonFinite())
        }

        // MARK: elementwise math (new tensors, and `_` in-place forms)
        for op in UnaryOp.allCases {
            let n = op.rawValue
            def("Tensor:\(n)", "x:\(n)()", "Elementwise \(n), as a new tensor.") { a in a.push(try a.tensor(1).map(op)) }
            def("Tensor:\(n)_", "x:\(n)_()", "Elementwise \(n), in place; returns x.") { a in
                let t = try a.tensor(1); t.mapInPlace(op); lua_settop(a.L, 1); return 1
            }
        }
        def("Tensor:pow", "x:pow(p)", "Elementwise power (p a number or a tensor), as a new tensor.") { a in
            let t = try a.tensor(1)
            if a.isNumber(2) { return a.push(Tensor.binary(.pow, t, scalar: try a.number(2))) }
            return a.push(try Tensor.binary(.pow, t, try a.tensor(2)))
        }
        def("Tensor:clamp", "x:clamp(lo, hi)", "Elementwise clamp into [lo, hi] (either may be nil), as a new tensor.") { a in
            let t = try a.tensor(1)
            let lo = try a.optNumber(2), hi = try a.optNumber(3)
            if let lo, let hi, lo > hi { throw a.error("lower bound \(lo) is above upper bound \(hi)") }
            return a.push(t.clamped(min: lo, max: hi))
        }
        for op in [BinaryOp.maximum, .minimum, .lt, .le, .gt, .ge, .eq, .ne] {
            def("Tensor:\(op.rawValue)", "x:\(op.rawValue)(y)",
                "Elementwise \(op.rawValue) with y (a tensor or number, broadcast); comparisons give 1 or 0.") { a in
                let t = try a.tensor(1)
                if a.isNumber(2) { return a.push(Tensor.binary(op, t, scalar: try a.number(2))) }
                return a.push(try Tensor.binary(op, t, try a.tensor(2)))
            }
        }

        // MARK: in place
        def("Tensor:add", "x:add(y [, alpha])", "In place: x += alpha·y (y a tensor broadcast to x, or a number). Returns x.") { a in
            let t = try a.tensor(1)
            if a.isNumber(2) {
                guard a.isNil(3) else { throw a.fail(3, "nil when adding a number") }
                t.apply(.add, scalar: try a.number(2))
            } else {
                try t.add(try a.tensor(2), alpha: a.isNil(3) ? 1 : try a.number(3))
            }
            lua_settop(a.L, 1); return 1
        }
        for (name, op) in [("sub", BinaryOp.sub), ("mul", .mul), ("div", .div)] {
            def("Tensor:\(name)", "x:\(name)(y)", "In place: x = x \(name) y (y a number or a tensor broadcast to x). Returns x.") { a in
                let t = try a.tensor(1)
                if a.isNumber(2) { t.apply(op, scalar: try a.number(2)) }
                else { try t.apply(op, try a.tensor(2)) }
                lua_settop(a.L, 1); return 1
            }
        }
        def("Tensor:axpby", "x:axpby(a, y, b)", "In place: x = a·y + b·x in one pass. Returns x.") { a in
            let t = try a.tensor(1)
            try t.axpby(try a.number(2), try a.tensor(3), try a.number(4))
            lua_settop(a.L, 1); return 1
        }
        def("Tensor:copy", "x:copy(y)", "In place: copies y (broadcast, any dtype) into x. Returns x.") { a in
            try a.tensor(1).copy(from: try a.tensor(2)); lua_settop(a.L, 1); return 1
        }
        def("Tensor:fill", "x:fill(v)", "In place: sets every element to v. Returns x.") { a in
            try a.tensor(1).fill(try a.number(2)); lua_settop(a.L, 1); return 1
        }
        def("Tensor:zero", "x:zero()", "In place: sets every element to 0. Returns x.") { a in
            try a.tensor(1).fill(0); lua_settop(a.L, 1); return 1
        }

        // MARK: metamethods
        for (mm, op) in [("__add", BinaryOp.add), ("__sub", .sub), ("__mul", .mul), ("__div", .div), ("__pow", .pow)] {
            def("Tensor:\(mm)", "x \(mm) y", "") { a in
                if let t = LuaArgs.tensorAt(a.L, 1) {
                    if a.isNumber(2) { return a.push(Tensor.binary(op, t, scalar: try a.number(2))) }
                    guard let u = LuaArgs.tensorAt(a.L, 2) else {
                        throw LuaError("dode.Tensor: cannot apply '\(mm.dropFirst(2))' to a tensor and \(a.describe(2))")
                    }
                    return a.push(try Tensor.binary(op, t, u))
                }
                guard let u = LuaArgs.tensorAt(a.L, 2), a.isNumber(1) else {
                    throw LuaError("dode.Tensor: cannot apply '\(mm.dropFirst(2))' to \(a.describe(1)) and \(a.describe(2))")
                }
                return a.push(Tensor.binary(op, u, scalar: try a.number(1), scalarFirst: true))
            }
        }
        def("Tensor:__unm", "-x", "") { a in a.push(try a.tensor(1).map(.neg)) }
        def("Tensor:__len", "#x", "") { a in
            let t = try a.tensor(1)
            return a.push(t.rank == 0 ? 1 : t.shape[0])
        }
        def("Tensor:__tostring", "tostring(x)", "") { a in a.push(try a.tensor(1).format()) }
        def("Tensor:__get", "x[i]", "") { a in
            let t = try a.tensor(1)
            guard t.rank >= 1 else { throw a.error("cannot index a 0-D tensor") }
            let i = try a.index(2, size: t.shape[0])
            if t.rank == 1 { return a.push(t.element(flat: i)) }
            return a.push(t.selectUnchecked0(i))
        }
        def("Tensor:__set", "x[i] = v", "") { a in
            let t = try a.tensor(1)
            guard t.rank >= 1 else { throw a.error("cannot index a 0-D tensor") }
            let i = try a.index(2, size: t.shape[0])
            let row = t.selectUnchecked0(i)
            if a.isNumber(3) { row.fill(try a.number(3)) }
            else if let v = LuaArgs.tensorAt(a.L, 3) { try row.copy(from: v) }
            else { throw a.fail(3, "a number or a tensor") }
            return 0
        }
    }

    /// Calls another registered binding with the same arguments (for aliases).
    func callBinding(_ name: String, _ a: LuaArgs) throws -> Int32 {
        guard let e = bindings.first(where: { $0.name == name }) else { return 0 }
        return try e.fn(LuaArgs(L: a.L, vm: self, name: a.name, isMethod: a.isMethod))
    }
}
