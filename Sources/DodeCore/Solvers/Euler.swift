/// Euler's method on the probability-flow ODE in s: y' = y + (s' − s)·(y − D)/s, algebraically
/// the DDIM step (k-diffusion `sample_euler`, diffusers `EulerDiscreteScheduler`).
public final class EulerSolver: FirstOrderSolver {
    public init() { super.init(name: "euler") }

    public static let entry = SolverEntry(name: "euler",
        help: "Euler in s (k-diffusion sample_euler, diffusers Euler): algebraically DDIM.") { _ in EulerSolver() }
}
