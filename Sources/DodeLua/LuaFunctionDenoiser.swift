import CLua
import DodeCore
import Foundation

/// A denoiser written in Lua: `dode.denoiser.fn(function(x, point [, cond]) ... end, {predicts =,
/// schedule =})`. The function receives the network input and the point and returns the raw
/// output, which `predicts` turns into an x0 prediction (default 'x0': it returns D itself).
/// Errors raised by the function come back as errors of the call that evaluated it.
final class LuaFunctionDenoiser: Denoiser {
    weak var vm: LuaVM?
    let ref: Int32
    let schedule: Schedule
    let prediction: Prediction
    let featureSize: Int?
    let isConditional: Bool
    var summary: String { "fn (Lua function, \(prediction.rawValue) prediction)" }

    init(vm: LuaVM, ref: Int32, schedule: Schedule, prediction: Prediction, dim: Int?, conditional: Bool) {
        self.vm = vm
        self.ref = ref
        self.schedule = schedule
        self.prediction = prediction
        self.featureSize = dim
        self.isConditional = conditional
    }

    deinit {
        if let vm, !vm.closing { dode_unref(vm.L, ref) }
    }

    func denoise(_ x: Tensor, at p: Point, cond: Tensor?, into out: Tensor) throws {
        try check(x, p, out)
        guard let vm else { throw CoreError("the Lua state of this denoiser is gone") }
        let L = vm.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard lua_checkstack(L, 8) != 0 else { throw CoreError("Lua stack overflow in a denoiser function") }
        _ = dode_rawgeti_registry(L, lua_Integer(ref))
        let (scale, _) = prediction.networkInput(x, p, sigmaData: schedule.sigmaData ?? 0.5)
        vm.push(scale == 1 ? x : Tensor.binary(.mul, x, scalar: scale))
        vm.push(p)
        var nargs: Int32 = 2
        if let cond { vm.push(cond); nargs = 3 }
        if vm.callback(nargs, 1) != LUA_OK {
            throw vm.callbackError("the denoiser function")
        }
        guard let r = LuaArgs.tensorAt(L, -1) else {
            throw CoreError("the denoiser function must return a tensor (got \(LuaArgs.describe(L, -1)))")
        }
        guard r.count == x.count else {
            throw CoreError("the denoiser function returned shape \(formatShape(r.shape)) " +
                            "for input shape \(formatShape(x.shape))")
        }
        try out.copy(from: r.shape == x.shape ? r : try r.reshape(x.shape))
        try prediction.toDenoised(x, p, output: out, sigmaData: schedule.sigmaData ?? 0.5)
    }
}
