import CLua
import DodeTensor
import Foundation

/// Math methods of `dode.Tensor`: reductions, elementwise functions (new tensors, and the `_`
/// in-place forms) and the in-place updates (`x:add(y, alpha)`, `x:mul(a)`, `x:copy(y)`,
/// `x:fill(v)`) for allocation-free loops; each in-place form returns x.
extension LuaVM {
    func installTensorMathMethods() {
        for kind in ["sum", "mean", "max", "min", "norm"] {
            def("Tensor:\(kind)", "x:\(kind)([dim [, keepdim]])", """
                The \(kind) of all elements (a number), or along `dim` (a tensor). Sums accumulate in \
                Float64.
                """) { a in
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
            def("Tensor:\(kind)", "x:\(kind)(dim)", """
                1-based indices of the \(kind == "argmax" ? "largest" : "smallest") elements along `dim`.
                """) { a in
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
            def("Tensor:\(n)", "x:\(n)()", "Elementwise \(n), as a new tensor.") { a in
                a.push(try a.tensor(1).map(op))
            }
            def("Tensor:\(n)_", "x:\(n)_()", "Elementwise \(n), in place; returns x.") { a in
                let t = try a.tensor(1); t.mapInPlace(op); lua_settop(a.L, 1); return 1
            }
        }
        def("Tensor:pow", "x:pow(p)", "Elementwise power (p a number or a tensor), as a new tensor.") { a in
            let t = try a.tensor(1)
            if a.isNumber(2) { return a.push(Tensor.binary(.pow, t, scalar: try a.number(2))) }
            return a.push(try Tensor.binary(.pow, t, try a.tensor(2)))
        }
        def("Tensor:clamp", "x:clamp(lo, hi)",
            "Elementwise clamp into [lo, hi] (either may be nil), as a new tensor.") { a in
            let t = try a.tensor(1)
            let lo = try a.optNumber(2), hi = try a.optNumber(3)
            if let lo, let hi, lo > hi { throw a.error("lower bound \(lo) is above upper bound \(hi)") }
            return a.push(t.clamped(min: lo, max: hi))
        }
        for op in [BinaryOp.maximum, .minimum, .lt, .le, .gt, .ge, .eq, .ne] {
            def("Tensor:\(op.rawValue)", "x:\(op.rawValue)(y)", """
                Elementwise \(op.rawValue) with y (a tensor or number, broadcast); comparisons give 1 or 0.
                """) { a in
                let t = try a.tensor(1)
                if a.isNumber(2) { return a.push(Tensor.binary(op, t, scalar: try a.number(2))) }
                return a.push(try Tensor.binary(op, t, try a.tensor(2)))
            }
        }

        // MARK: in place
        def("Tensor:add", "x:add(y [, alpha])", """
            In place: x += alpha·y (y a tensor broadcast to x, or a number). Returns x.
            """) { a in
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
            def("Tensor:\(name)", "x:\(name)(y)", """
                In place: x = x \(name) y (y a number or a tensor broadcast to x). Returns x.
                """) { a in
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
    }
}
