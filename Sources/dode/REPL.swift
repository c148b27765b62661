import CEdit
import CLua
import DodeCore
import DodeLua
import Foundation

/// Completion candidates for the current word (libedit calls a C function without context).
nonisolated(unsafe) var completionVM: LuaVM? = nil
nonisolated(unsafe) var completionMatches: [String] = []

/// readline's generator protocol: state 0 computes the matches, each call returns the next one
/// as a malloc'd string, nil when done.
let completionGenerator: @convention(c) (UnsafePointer<CChar>?, Int32) -> UnsafeMutablePointer<CChar>? = {
    text, state in
    if state == 0 {
        completionMatches = completionVM.map {
            REPL.completions(for: text.map { String(cString: $0) } ?? "", vm: $0)
        } ?? []
    }
    let k = Int(state)
    guard k < completionMatches.count else { return nil }
    return strdup(completionMatches[k])
}

/// The interactive loop: libedit line editing with persistent history, multi-line statements,
/// expressions printed automatically, errors with a traceback after which the loop goes on.
struct REPL {
    let vm: LuaVM
    var L: OpaquePointer { vm.L }

    var historyPath: String {
        if let p = ProcessInfo.processInfo.environment["DODE_HISTORY"], !p.isEmpty { return p }
        return (ProcessInfo.processInfo.environment["HOME"] ?? ".") + "/.dode_history"
    }

    func run() {
        print("dode \(dodeVersion) (Lua 5.4) — help() for an overview, help(x) for any function; Ctrl-D exits")
        completionVM = vm
        dode_edit_set_completer(completionGenerator)
        using_history()
        _ = read_history(historyPath)
        var buffer = ""
        while true {
            guard let raw = readline(buffer.isEmpty ? "> " : ">> ") else { print(""); break }
            let line = String(cString: raw)
            free(raw)
            buffer = buffer.isEmpty ? line : buffer + "\n" + line
            if buffer.trimmingCharacters(in: .whitespaces).isEmpty { buffer = ""; continue }
            switch evaluate(buffer) {
            case .incomplete: continue
            case .done:
                add_history(buffer)
                _ = write_history(historyPath)
                buffer = ""
            }
        }
    }

    enum Outcome { case done, incomplete }

    /// Compiles `return <text>` first (so expressions print), then `<text>` itself; a syntax
    /// error that ends at `<eof>` means the statement continues on the next line.
    func evaluate(_ text: String) -> Outcome {
        var src = text
        if src.hasPrefix("=") { src = "return " + src.dropFirst() }
        lua_settop(L, 0)
        var status = ("return " + src + ";").withCString { dode_loadbuffer(L, $0, strlen($0), "=stdin") }
        if status != LUA_OK {
            dode_pop(L, 1)
            status = src.withCString { dode_loadbuffer(L, $0, strlen($0), "=stdin") }
            if status == LUA_ERRSYNTAX {
                let msg = String(cString: dode_tostring(L, -1))
                if msg.hasSuffix("<eof>") { dode_pop(L, 1); return .incomplete }
            }
            if status != LUA_OK {
                report()
                return .done
            }
        }
        if vm.protectedCall(0, LUA_MULTRET) != LUA_OK {
            report()
            return .done
        }
        let n = lua_gettop(L)
        if n > 0 {
            _ = dode_getglobal(L, "print")
            dode_insert(L, 1)
            if vm.protectedCall(n, 0) != LUA_OK { report() }
        }
        lua_settop(L, 0)
        return .done
    }

    func report() {
        var len = 0
        let msg = dode_tolstring_meta(L, -1, &len).map { String(cString: $0) } ?? "(error)"
        FileHandle.standardError.write(Data((msg + "\n").utf8))
        lua_settop(L, 0)
    }

    /// Names completing `text`: walks the dotted prefix (`dode.sch` → fields of `dode`).
    static func completions(for text: String, vm: LuaVM) -> [String] {
        let L = vm.L
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        var parts = text.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let last = parts.removeLast()
        dode_pushglobaltable(L)
        for p in parts {
            guard lua_type(L, -1) == LUA_TTABLE else { return [] }
            lua_pushstring(L, p)
            lua_rawget(L, -2)   // raw: a failing __index must not raise through Swift
        }
        guard lua_type(L, -1) == LUA_TTABLE else { return [] }
        let prefix = parts.isEmpty ? "" : parts.joined(separator: ".") + "."
        var out: [String] = []
        lua_pushnil(L)
        while lua_next(L, -2) != 0 {
            if lua_type(L, -2) == LUA_TSTRING {
                let k = String(cString: dode_tostring(L, -2))
                if k.hasPrefix(last) && !k.hasPrefix("_") { out.append(prefix + k) }
            }
            dode_pop(L, 1)
        }
        return out.sorted()
    }
}
