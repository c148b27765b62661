import CEdit
import CLua
import DodeCore
import DodeLua
import DodeMPI
import DodeTensor
import Foundation

// The `dode` command: a Lua 5.4 interpreter with the `dode` module preloaded.
let usage = """
usage: dode [options] [script.lua [args...]]
  script.lua   run the script; its arguments are in the global `arg` (arg[0] is the script)
  -e chunk     run the Lua chunk (may be repeated)
  -i           enter the REPL after running the script or chunks
  -            run standard input as a script
  --version    print the version
  --reference  print the reference manual (Markdown) built from the help text
  --help       print this help
With no arguments: a REPL when standard input is a terminal, otherwise standard input runs as
a script. The exit status is 1 when a script raises an error.
"""

/// Under mpirun: the MPI world, started before anything else runs (nil for a single process).
let mpi: MPIWorld?
do {
    mpi = try MPIWorld.startIfLaunched()
} catch {
    FileHandle.standardError.write(Data("dode: cannot start MPI: \(error)\n".utf8))
    exit(1)
}
if let mpi {
    World.current = mpi
    // Ranks on one node share its cores: each takes its share for batch work and BLAS, unless
    // DODE_THREADS says otherwise.
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let threads = Int(ProcessInfo.processInfo.environment["DODE_THREADS"] ?? "")
        ?? Swift.max(1, cores / Swift.max(1, mpi.localSize))
    Parallel.threads = threads
    BLAS.setThreads(threads)
}

/// Ends the process: under MPI a failing rank ends every rank (MPI_Abort) with its message,
/// so no rank waits forever in a collective.
func fail(_ msg: String) -> Never {
    if let mpi, mpi.size > 1 {
        FileHandle.standardError.write(Data("dode: rank \(mpi.rank) of \(mpi.size): \(msg)\n".utf8))
        mpi.abort(code: 1)
    }
    FileHandle.standardError.write(Data("dode: \(msg)\n".utf8))
    mpi?.finalize()
    exit(1)
}

/// A normal end: MPI is finalised first.
func finish() -> Never {
    mpi?.finalize()
    exit(0)
}

var chunks: [String] = []
var interactive = false
var script: String? = nil
var scriptArgs: [String] = []
var args = Array(CommandLine.arguments.dropFirst())
var i = 0
parse: while i < args.count {
    let a = args[i]
    switch a {
    case "--version", "-v": print("dode \(dodeVersion) (Lua 5.4)"); finish()
    case "--help", "-h": print(usage); finish()
    case "--reference": print(LuaVM().referenceMarkdown()); finish()
    case "--kernel-server":   // hidden: the process behind a notebook kernel (KernelServer.swift)
        guard i + 2 < args.count, let fin = Int32(args[i + 1]), let fout = Int32(args[i + 2]) else {
            fail("'--kernel-server' needs the request and reply file descriptors")
        }
        let vm = LuaVM()
        vm.setArgs(script: "", args: [], interpreter: CommandLine.arguments[0])
        KernelServer(vm: vm, input: fin, output: fout).run()
    case "-i": interactive = true
    case "-e":
        guard i + 1 < args.count else { fail("'-e' needs a chunk") }
        chunks.append(args[i + 1]); i += 1
    case "--": if i + 1 < args.count { script = args[i + 1]; scriptArgs = Array(args[(i + 2)...]) }; break parse
    default:
        if a.hasPrefix("-") && a != "-" { fail("unknown option '\(a)'\n\(usage)") }
        script = a
        scriptArgs = Array(args[(i + 1)...])
        break parse
    }
    i += 1
}

let vm = LuaVM()
vm.exitHandler = { code in
    if code != 0, let mpi, mpi.size > 1 { mpi.abort(code: code) }
    mpi?.finalize()
    exit(code)
}
vm.setArgs(script: script ?? "", args: scriptArgs, interpreter: CommandLine.arguments[0])
for c in chunks {
    if let err = vm.run(c, chunkName: "=(command line)") { fail(err) }
}
if let script {
    let err: String?
    if script == "-" {
        let data = FileHandle.standardInput.readDataToEndOfFile()
        err = vm.run(String(decoding: data, as: UTF8.self), chunkName: "=stdin")
    } else {
        err = vm.runFile(script)
    }
    if let err { fail(err) }
}
let stdinIsTTY = isatty(0) != 0
if interactive || (script == nil && chunks.isEmpty && stdinIsTTY) {
    REPL(vm: vm).run()
} else if script == nil && chunks.isEmpty {
    let data = FileHandle.standardInput.readDataToEndOfFile()
    if let err = vm.run(String(decoding: data, as: UTF8.self), chunkName: "=stdin") { fail(err) }
}
finish()
