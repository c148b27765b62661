/// Builds a built-in solver from its name and saved options (for reloading fits).
public enum SolverFactory {
    public static func make(_ name: String, _ o: [String: String]) throws -> Solver {
        func int(_ k: String, _ d: Int) throws -> Int {
            guard let v = o[k] else { return d }
            guard let i = Int(v) else { throw CoreError("option \(k) = '\(v)' is not an integer") }
            return i
        }
        let lof = o["lower_order_final"].map { $0 == "true" } ?? true
        let single = o["method"] == "singlestep"
        switch name {
        case "ddim": return DDIMSolver()
        case "euler": return EulerSolver()
        case "heun": return HeunSolver()
        case "dpm2": return DPM2Solver()
        case "pndm": return PNDMSolver()
        case "lms": return try LMSSolver(order: int("order", 4))
        case "ipndm": return try IPNDMSolver(order: int("order", 4))
        case "deis": return try DEISSolver(order: int("order", 2), lowerOrderFinal: lof)
        case "dpm": return try DPMSolver(order: int("order", 2), singlestep: single, lowerOrderFinal: lof)
        case "dpmpp": return try DPMSolverPlusPlus(order: int("order", 2), singlestep: single, lowerOrderFinal: lof)
        case "unipc": return try UniPCSolver(order: int("order", 2), variant: o["variant"] ?? "bh2", lowerOrderFinal: lof)
        default: throw CoreError("'\(name)' is not a built-in solver; pass the solver object")
        }
    }
}
