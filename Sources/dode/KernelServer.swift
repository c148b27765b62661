import CLua
import DodeLua
import Foundation

/// `dode --kernel-server IN OUT`: the dode process behind a Jupyter notebook (the wrapper kernel
/// in Kernel/dode_kernel starts one per notebook). One Lua state lives for the whole session,
/// with the REPL's globals and evaluation rules.
///
/// Protocol: frames on two dedicated file descriptors, each a 4-byte big-endian length followed
/// by that many bytes of UTF-8 JSON. Requests arrive on IN, one at a time:
///   {"op": "execute", "code": text, "count": n}   run a cell (chunk name In[n])
///   {"op": "complete", "text": "dode.sch"}          names completing a dotted or `x:` prefix
///   {"op": "inspect", "text": "dode.randn"}         the text help(x) prints
///   {"op": "is_complete", "code": text}             complete | incomplete | invalid
///   {"op": "shutdown"}
/// and leave on OUT:
///   {"type": "display", "data": {mime: text or base64}, "id": id?, "update": bool}   (any time;
///                                                       the kernel answers {"op": "ack"})
///   {"type": "result", "data": {...}}                   the cell's value (execute_result)
///   {"type": "done", "status": "ok"} or {"type": "done", "status": "error", "ename", "evalue", "traceback": [lines]}
///   {"type": "reply", ...}                              the answer to complete/inspect/is_complete
/// Standard output and error stay ordinary pipes (Lua's print, io.write, Swift warnings) that the
/// kernel forwards as stream messages. Standard output is line-buffered and flushed before every
/// frame, so that text printed before a display or the end of a cell is in the pipe before the
/// frame is written; the kernel drains the pipes before it handles a frame, and dode waits for the
/// ack of a display before it goes on, which keeps print and displays in order.
///
/// Interrupts: the kernel sends SIGINT while a request runs; a chunk turns it into the Lua error
/// "interrupted" (LuaVM.protectedCall). Between chunks SIGINT is ignored, so an interrupt that
/// arrives just after a cell finished cannot end the session.
final class KernelServer: DisplaySink {
    let vm: LuaVM
    let input: Int32
    let output: Int32
    private let lock = NSLock()
    /// Registry references to dode.display._result and dode.display._inspect.
    private var resultRef: Int32 = 0
    private var inspectRef: Int32 = 0

    init(vm: LuaVM, input: Int32, output: Int32) {
        self.vm = vm
        self.input = input
        self.output = output
    }

    func run() -> Never {
        signal(SIGPIPE, SIG_IGN)             // a closed pipe is an error return, then we exit
        dode_sigint_set_idle_ignore(1)
        setvbuf(stdout, nil, _IOLBF, 0)      // print streams to the cell line by line
        vm.displaySink = self
        lookUpHooks()
        while let req = readFrame() {
            switch req["op"] as? String {
            case "execute":
                execute(req["code"] as? String ?? "", count: req["count"] as? Int ?? 0)
            case "complete":
                send(["type": "reply", "matches": Completion.matches(for: req["text"] as? String ?? "", vm: vm)])
            case "inspect":
                send(["type": "reply", "text": inspect(req["text"] as? String ?? "") ?? NSNull()])
            case "is_complete":
                send(["type": "reply", "status": isComplete(req["code"] as? String ?? "")])
            case "shutdown":
                fflush(stdout)
                exit(0)
            default:
                send(["type": "reply", "error": "unknown request"])
            }
        }
        fflush(stdout)
        exit(0)
    }

    // MARK: frames

    private func readFull(_ n: Int) -> Data? {
        var buf = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = buf.withUnsafeMutableBytes { read(input, $0.baseAddress! + got, n - got) }
            if r < 0 && errno == EINTR { continue }
            if r <= 0 { return nil }
            got += r
        }
        return Data(buf)
    }

    private func readFrame() -> [String: Any]? {
        guard let head = readFull(4) else { return nil }
        let n = head.reduce(0) { $0 << 8 | Int($1) }
        guard n >= 0, n <= 1 << 30, let body = n == 0 ? Data() : readFull(n) else { return nil }
        return (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
    }

    private func send(_ obj: [String: Any], locked: Bool = false) {
        fflush(stdout)
        guard let body = try? JSONSerialization.data(withJSONObject: obj) else { return }
        var frame = Data([UInt8(body.count >> 24 & 255), UInt8(body.count >> 16 & 255),
                          UInt8(body.count >> 8 & 255), UInt8(body.count & 255)])
        frame.append(body)
        if !locked { lock.lock() }
        defer { if !locked { lock.unlock() } }
        var ok = true
        frame.withUnsafeBytes { b in
            var off = 0
            while off < b.count {
                let w = write(output, b.baseAddress! + off, b.count - off)
                if w < 0 && errno == EINTR { continue }
                if w <= 0 { ok = false; break }
                off += w
            }
        }
        if !ok { exit(0) }   // the kernel is gone
    }

    /// A bundle as JSON: binary types base64-encoded, as Jupyter messages carry them.
    private func json(_ bundle: [String: Any]) -> [String: Any] {
        bundle.mapValues { v in (v as? Data)?.base64EncodedString() ?? v }
    }

    /// Sends a display frame and waits for the kernel's {"op": "ack"}: the kernel acknowledges
    /// after it forwarded the output written before the frame, so nothing printed after the
    /// display can overtake it (stdout and the frames travel on different pipes).
    func display(_ data: [String: Any], id: String?, update: Bool) {
        var m: [String: Any] = ["type": "display", "data": json(data), "update": update]
        if let id { m["id"] = id }
        lock.lock()
        defer { lock.unlock() }
        send(m, locked: true)
        if readFrame() == nil { exit(0) }
    }

    // MARK: requests

    private func lookUpHooks() {
        let L = vm.L
        lua_settop(L, 0)
        if vm.run("local d = package.loaded['dode.display']; return d and d._result, d and d._inspect",
                  chunkName: "=kernel", nresults: 2) == nil {
            func ref() -> Int32 {   // pops the top value, keeping a reference to it if it is a function
                if lua_type(L, -1) == LUA_TFUNCTION { return dode_ref(L) }
                dode_pop(L, 1)
                return 0
            }
            inspectRef = ref()
            resultRef = ref()
        }
        lua_settop(L, 0)
    }

    /// Compiles a cell so that its last expression is returned, as the REPL returns a line's
    /// value: for the last lines k...n, tries `<lines before k>; return pass(<lines k...n>)`
    /// (the parentheses keep the `return` at the top level: a candidate that would put it inside
    /// a block does not compile); else the cell as it is. Leaves the function on the stack, or
    /// returns the syntax error.
    private func compile(_ code: String, chunk: String) -> String? {
        let L = vm.L
        let lines = code.components(separatedBy: "\n")
        func load(_ src: String) -> Bool {
            let st = src.withCString { dode_loadbuffer(L, $0, strlen($0), chunk) }
            if st == LUA_OK { return true }
            dode_pop(L, 1)
            return false
        }
        var last = lines.count - 1
        while last >= 0 {
            let t = lines[last].trimmingCharacters(in: .whitespaces)
            if !t.isEmpty && !t.hasPrefix("--") { break }
            last -= 1
        }
        if last >= 0 && !code.hasSuffix(";") && !lines[last].trimmingCharacters(in: .whitespaces).hasSuffix(";") {
            for k in stride(from: last, through: 0, by: -1) {
                let rest = lines[k...].joined(separator: "\n")
                if rest.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix("(") { continue }
                let head = k > 0 ? lines[..<k].joined(separator: "\n") + "\n" : ""
                if load(head + "return (function(...) return ... end)(" + rest + "\n)") { return nil }
            }
        }
        let st = code.withCString { dode_loadbuffer(L, $0, strlen($0), chunk) }
        if st == LUA_OK { return nil }
        var len = 0
        let msg = dode_tolstring_meta(L, -1, &len).map { String(cString: $0) } ?? "syntax error"
        lua_settop(L, 0)
        return msg
    }

    private func finishWithError(_ message: String, ename: String? = nil) {
        let evalue = message.components(separatedBy: "\nstack traceback:").first ?? message
        let name = ename ?? (evalue.hasSuffix("interrupted") ? "Interrupted" : "LuaError")
        send(["type": "done", "status": "error", "ename": name, "evalue": evalue,
              "traceback": message.components(separatedBy: "\n")])
    }

    private func popMessage() -> String {
        var len = 0
        let msg = dode_tolstring_meta(vm.L, -1, &len).map { String(cString: $0) } ?? "(error)"
        lua_settop(vm.L, 0)
        return msg
    }

    func execute(_ code: String, count: Int) {
        let L = vm.L
        lua_settop(L, 0)
        if let err = compile(code, chunk: "=In[\(count)]") {
            finishWithError(err, ename: "SyntaxError")
            return
        }
        guard vm.protectedCall(0, LUA_MULTRET) == LUA_OK else {
            finishWithError(popMessage())
            return
        }
        let n = lua_gettop(L)
        if n > 0 && resultRef != 0 {
            _ = dode_rawgeti_registry(L, lua_Integer(resultRef))
            dode_insert(L, 1)
            guard vm.protectedCall(n, 1) == LUA_OK else {
                finishWithError(popMessage())
                return
            }
            if lua_type(L, -1) == LUA_TTABLE {
                do {
                    send(["type": "result", "data": json(try vm.displayBundle(at: -1))])
                } catch {
                    lua_settop(L, 0)
                    finishWithError("\(error)")
                    return
                }
            }
        }
        lua_settop(L, 0)
        send(["type": "done", "status": "ok"])
    }

    func inspect(_ text: String) -> String? {
        let L = vm.L
        guard inspectRef != 0 else { return nil }
        lua_settop(L, 0)
        _ = dode_rawgeti_registry(L, lua_Integer(inspectRef))
        lua_pushstring(L, text)
        defer { lua_settop(L, 0) }
        guard vm.protectedCall(1, 1) == LUA_OK, lua_type(L, -1) == LUA_TSTRING else { return nil }
        return String(cString: dode_tostring(L, -1))
    }

    func isComplete(_ code: String) -> String {
        let L = vm.L
        defer { lua_settop(L, 0) }
        lua_settop(L, 0)
        for src in ["return " + code + ";", code] {
            let st = src.withCString { dode_loadbuffer(L, $0, strlen($0), "=cell") }
            if st == LUA_OK { return "complete" }
            let msg = String(cString: dode_tostring(L, -1))
            dode_pop(L, 1)
            if src == code { return msg.hasSuffix("<eof>") ? "incomplete" : "invalid" }
        }
        return "invalid"
    }
}
