import CLua
import DodeCore
import Foundation

/// A binding: reads its arguments from the Lua stack, pushes results, returns their count.
public typealias LuaBinding = (LuaArgs) throws -> Int32

/// Documentation of one binding, module or method: one source serves `help` and `dode --reference`.
public struct LuaDoc {
    public var name: String
    public var signature: String
    public var text: String
}

/// The dispatcher the C trampoline calls for every binding. Errors become pushed messages.
private let dispatcher: dode_dispatch_fn = { L, index in
    guard let L, let space = dode_getextraspace(L) else { return 0 }
    let raw = space.load(as: UnsafeRawPointer?.self)
    guard let raw else { return 0 }
    let vm = Unmanaged<LuaVM>.fromOpaque(raw).takeUnretainedValue()
    let i = Int(index)
    guard i >= 0 && i < vm.bindings.count else { return 0 }
    let entry = vm.bindings[i]
    let saved = vm.currentL
    vm.currentL = L
    defer { vm.currentL = saved }
    do {
        return try entry.fn(LuaArgs(L: L, vm: vm, name: entry.name, isMethod: entry.isMethod))
    } catch is Interrupted {
        // A Swift loop saw the request first: the Lua hook must not fire again in the handler.
        dode_interrupt_unhook(L)
        dode_interrupt_unhook(vm.mainL)
        dode_pushstring(L, "\(entry.name): interrupted")
    } catch let e as LuaErrorVerbatim {
        dode_pushstring(L, e.message)
        return DODE_RAISE_VERBATIM
    } catch let e as LuaError {
        dode_pushstring(L, e.message)
    } catch let e as TensorError {
        dode_pushstring(L, "\(entry.name): \(e.message)")
    } catch {
        dode_pushstring(L, "\(entry.name): \(error)")
    }
    return DODE_RAISE
}

/// One Lua 5.4 state with dode's bindings. Keep each VM on one thread.
public final class LuaVM {
    /// The main Lua thread (the state `lua_close` ends).
    public let mainL: OpaquePointer
    /// The Lua thread code runs on now: the thread of the binding being executed (a coroutine
    /// calls bindings on its own stack), else the main thread. Every push goes here.
    public var L: OpaquePointer { currentL ?? mainL }
    struct Entry { let name: String; let isMethod: Bool; let fn: LuaBinding }
    var bindings: [Entry] = []
    /// Docs by full name (`dode.randn`, `Tensor:add`, `dode.schedule`).
    public internal(set) var docs: [String: LuaDoc] = [:]
    /// Tensor bytes pushed since the last GC step.
    var gcDebt = 0
    /// The Lua thread of the binding running now (callbacks into Lua use it).
    var currentL: OpaquePointer? = nil
    /// Set while the state is being closed (objects released then must not touch it).
    var closing = false
    /// How many Swift frames that called into Lua (denoiser functions, Lua solvers, step
    /// callbacks) are live now: os.exit is refused inside them.
    var callbackDepth = 0
    /// What os.exit does at the top level (the executable finalises MPI first); default exit(code).
    public var exitHandler: ((Int32) -> Never)? = nil
    /// Where `dode.display` sends rich output; nil in a terminal (set by the notebook kernel server).
    public var displaySink: DisplaySink? = nil
    /// Lazily loaded built-in feature network.
    var cachedClassifiers: [String: MLPNetwork] = [:]

    public init() {
        dode_set_dispatcher(dispatcher)
        mainL = dode_newstate()
        dode_openlibs(mainL)
        dode_getextraspace(mainL).storeBytes(of: UnsafeRawPointer(Unmanaged.passUnretained(self).toOpaque()),
                                         as: UnsafeRawPointer?.self)
        installTypes()
        installModule()
    }

    deinit {
        closing = true
        lua_close(mainL)
    }

    /// Registers a binding under `name` (`dode.x.y` for functions, `Type:method` for methods)
    /// and returns its index. Tables are assembled by `installModule`.
    @discardableResult
    func def(_ name: String, _ signature: String, _ text: String, _ fn: @escaping LuaBinding) -> Int {
        bindings.append(Entry(name: name, isMethod: name.contains(":"), fn: fn))
        docs[name] = LuaDoc(name: name, signature: signature, text: text)
        return bindings.count - 1
    }

    /// Adds documentation for something that is not a Swift binding (a module table, a value).
    public func doc(_ name: String, _ signature: String, _ text: String) {
        docs[name] = LuaDoc(name: name, signature: signature, text: text)
    }

    func pushBinding(_ index: Int) { dode_push_binding(L, lua_Integer(index)) }

    // MARK: running code

    /// Loads and runs a chunk with a traceback handler. Returns nil or the error text.
    @discardableResult
    public func run(_ source: String, chunkName: String, nresults: Int32 = 0) -> String? {
        let status = source.withCString { p in dode_loadbuffer(L, p, strlen(p), chunkName) }
        if status != LUA_OK { return popError() }
        if protectedCall(0, nresults) != LUA_OK { return popError() }
        return nil
    }

    /// Calls the function below `nargs` arguments on the current thread from Swift (a callback:
    /// a denoiser function, a Lua solver, a step callback), with the traceback handler.
    func callback(_ nargs: Int32, _ nresults: Int32) -> Int32 {
        callbackDepth += 1
        defer { callbackDepth -= 1 }
        return dode_pcall_traceback(L, nargs, nresults)
    }

    /// The error a callback raised (on the top of the stack), as a Swift error saying which
    /// callback (`what`). An error that already went through a callback (a denoiser calling a
    /// denoiser ...) passes through unchanged, so recursion does not stack one wrapper and one
    /// traceback per level.
    func callbackError(_ what: String) -> Error {
        let msg = dode_tostring(L, -1).map { String(cString: $0) } ?? "(an error object that is not a string)"
        if msg.contains(LuaVM.callbackMarker) { return LuaErrorVerbatim(msg) }
        return CoreError("\(what)\(LuaVM.callbackMarker)\(msg)")
    }
    static let callbackMarker = " raised an error: "

    /// lua_pcall with the traceback handler, with Ctrl-C turned into the Lua error "interrupted"
    /// while it runs (a pending request from before is dropped). Returns the Lua status.
    public func protectedCall(_ nargs: Int32, _ nresults: Int32) -> Int32 {
        Interrupt.clear()
        dode_sigint_catch(L)
        defer {
            dode_sigint_default()
            dode_interrupt_unhook(L)
            Interrupt.clear()
        }
        return dode_pcall_traceback(L, nargs, nresults)
    }

    /// Runs the script at `path` (chunk name `@path`).
    public func runFile(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path) else {
            return "cannot open \(path)"
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("#") { text = "--" + text }   // shebang line, as lua.c skips it
        return run(text, chunkName: "@" + path)
    }

    func popError() -> String {
        var len = 0
        let msg = dode_tolstring_meta(L, -1, &len).map { String(cString: $0) } ?? "(error)"
        dode_pop(L, 2)
        return msg
    }

    /// Sets the global `arg` table as lua.c does: script at 0, its arguments at 1..n.
    public func setArgs(script: String, args: [String], interpreter: String) {
        lua_createtable(L, Int32(args.count), 2)
        lua_pushstring(L, interpreter); lua_rawseti(L, -2, -1)
        lua_pushstring(L, script); lua_rawseti(L, -2, 0)
        for (i, a) in args.enumerated() { lua_pushstring(L, a); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        dode_setglobal(L, "arg")
    }
}
