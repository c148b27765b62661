import CFuzzDriver
import Foundation

/// Runs libFuzzer on `callback` with the process's command line (libFuzzer's flags and corpus
/// folders) and exits with its status.
public func runFuzzer(_ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv, callback))
}

/// The input as a buffer (libFuzzer passes nil for an empty input).
public func bytes(_ p: UnsafePointer<UInt8>?, _ n: Int) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: n > 0 ? p : nil, count: n)
}
