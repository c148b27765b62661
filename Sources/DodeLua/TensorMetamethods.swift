import CLua
import DodeTensor
import Foundation

/// Operators of `dode.Tensor`: arithmetic with numpy broadcasting and scalars on either side,
/// unary minus, `#x`, `tostring(x)`, and 1-based row indexing `x[i]` / `x[i] = v`.
extension LuaVM {
    func installTensorMetamethods() {
        for (mm, op) in [("__add", BinaryOp.add), ("__sub", .sub), ("__mul", .mul), ("__div", .div), ("__pow", .pow)] {
            def("Tensor:\(mm)", "x \(mm) y", "") { a in
                if let t = LuaArgs.tensorAt(a.L, 1) {
                    if a.isNumber(2) { return a.push(Tensor.binary(op, t, scalar: try a.number(2))) }
                    guard let u = LuaArgs.tensorAt(a.L, 2) else {
                        throw LuaError("dode.Tensor: cannot apply '\(mm.dropFirst(2))' to a tensor " +
                                       "and \(a.describe(2))")
                    }
                    return a.push(try Tensor.binary(op, t, u))
                }
                guard let u = LuaArgs.tensorAt(a.L, 2), a.isNumber(1) else {
                    throw LuaError("dode.Tensor: cannot apply '\(mm.dropFirst(2))' to \(a.describe(1)) " +
                                   "and \(a.describe(2))")
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
}
