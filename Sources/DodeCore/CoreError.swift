/// An error from the diffusion core; the Lua layer prefixes the binding's name.
public typealias CoreError = TensorError
