import DodeCore
import Foundation
import FuzzSupport

/// Saved-fit JSON → DODEFit.decode, then everything a loaded fit offers: its table, the solver
/// it names (rebuilt through the catalogue, as dode.distill.load does) and its D-variant's plan
/// on the grid it records.
func fuzzFitJSON(_ input: UnsafeRawBufferPointer) {
    TensorLimits.maxBytes = 64 << 20
    guard let fit = try? DODEFit.decode(Data(input), name: "fuzz.json") else { return }
    _ = fit.table()
    guard let base = try? SolverCatalog.make(fit.solverName, text: fit.solverOptions),
          let d = try? fit.solver(base: base) else { return }
    if let vp = try? Schedule.vp(),
       let g = try? Grid.discrete(vp, Swift.max(1, Swift.min(fit.gridPoints.count - 1, 50)), spacing: "trailing") {
        _ = try? d.plan(g)
    }
}

runFuzzer { fuzzFitJSON(bytes($0, $1)); return 0 }
