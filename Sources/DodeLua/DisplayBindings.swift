import CLua
import DodeTensor
import Foundation

/// Where rich output goes when dode runs inside a notebook: the kernel server (`dode
/// --kernel-server`) sets `LuaVM.displaySink`; in a terminal there is none and display objects
/// print their text instead (Stdlib/dode/display.lua).
public protocol DisplaySink: AnyObject {
    /// Shows a MIME bundle. Values are `String` for text types and `Data` for binary ones
    /// (`DisplayMIME.isBinary`). A display with an `id` can be replaced in place later by a
    /// call with the same id and `update = true`.
    func display(_ data: [String: Any], id: String?, update: Bool)
}

/// MIME types of display bundles.
public enum DisplayMIME {
    /// Types whose content is bytes rather than text (sent base64-encoded to a notebook).
    public static func isBinary(_ mime: String) -> Bool {
        (mime.hasPrefix("image/") && mime != "image/svg+xml") || mime == "application/pdf"
    }
}

/// A one-line progress report of a Swift loop (`dode.distill.fit{progress = true}`,
/// `dode.reference.solve{progress = true}`): in a terminal a line on standard error for each
/// `major` report; in a notebook one display that reports replace in place, major ones always
/// and the others at most every 0.25 s.
final class ProgressLine {
    private let vm: LuaVM
    private var id: String? = nil
    private var last = Date.distantPast

    init(vm: LuaVM) { self.vm = vm }

    func report(_ text: String, major: Bool = true) {
        if let sink = vm.displaySink {
            guard major || Date().timeIntervalSince(last) >= 0.25 else { return }
            last = Date()
            let first = id == nil
            if first { id = "dode-progress-" + UUID().uuidString }
            sink.display(["text/plain": text], id: id, update: !first)
        } else if major {
            FileHandle.standardError.write(Data((text + "\n").utf8))
        }
    }
}

extension LuaArgs {
    /// The bytes of the string argument at `i` (binary-safe: PNG data holds zeros).
    func bytes(_ i: Int32, _ expected: String = "a string") throws -> Data {
        guard lua_type(L, i) == LUA_TSTRING else { throw fail(i, expected) }
        var len = 0
        guard let p = lua_tolstring(L, i, &len) else { throw fail(i, expected) }
        return Data(bytes: p, count: len)
    }
}

/// `dode.image.save` and the internal hooks of `dode.display` (Stdlib/dode/display.lua).
extension LuaVM {
    /// Registry key of the metatable that image objects get (set by dode.display).
    static let imageMetatableKey = "dode.display.Image"

    /// Pushes an image object {png =, width =, height =, channels =, path =} with the
    /// metatable dode.display registered (a plain table if the module is missing).
    func pushImage(png: Data, width: Int, height: Int, channels: Int, path: String?) {
        lua_createtable(L, 0, 5)
        _ = png.withUnsafeBytes { b in lua_pushlstring(L, b.baseAddress?.assumingMemoryBound(to: CChar.self), b.count) }
        lua_setfield(L, -2, "png")
        lua_pushinteger(L, lua_Integer(width)); lua_setfield(L, -2, "width")
        lua_pushinteger(L, lua_Integer(height)); lua_setfield(L, -2, "height")
        lua_pushinteger(L, lua_Integer(channels)); lua_setfield(L, -2, "channels")
        if let path { lua_pushstring(L, path); lua_setfield(L, -2, "path") }
        if lua_getfield(L, dode_registryindex(), LuaVM.imageMetatableKey) == LUA_TTABLE {
            lua_setmetatable(L, -2)
        } else {
            dode_pop(L, 1)
        }
    }

    /// Reads the MIME bundle (a table {mime = string}) at stack index `i` of `state` (default:
    /// the main thread); errors name `who`. Raw table access only, so no Lua error can be
    /// raised through Swift.
    public func displayBundle(at i: Int32, in state: OpaquePointer? = nil,
                              who: String = "dode.display") throws -> [String: Any] {
        let L = state ?? self.L
        let i = lua_absindex(L, i)
        guard lua_type(L, i) == LUA_TTABLE else {
            throw LuaError("\(who): expected a MIME bundle {['text/plain'] = text, ['image/png'] = bytes, ...} " +
                           "(got \(LuaArgs.describe(L, i)))")
        }
        var out: [String: Any] = [:]
        var problem: String? = nil
        lua_pushnil(L)
        while problem == nil && lua_next(L, i) != 0 {
            defer { dode_pop(L, 1) }
            guard lua_type(L, -2) == LUA_TSTRING else {
                problem = "a MIME bundle has a key that is not a MIME type (\(LuaArgs.describe(L, -2)))"; continue
            }
            var klen = 0
            let mime = String(decoding: UnsafeRawBufferPointer(start: lua_tolstring(L, -2, &klen), count: klen),
                              as: UTF8.self)
            guard mime.contains("/") else {
                problem = "a MIME bundle has the key '\(mime)', which is not a MIME type such as 'text/html'"; continue
            }
            guard lua_type(L, -1) == LUA_TSTRING else {
                problem = "the value of '\(mime)' in a MIME bundle must be a string " +
                          "(got \(LuaArgs.describe(L, -1)))"; continue
            }
            var len = 0
            let data = Data(bytes: lua_tolstring(L, -1, &len)!, count: len)
            if DisplayMIME.isBinary(mime) {
                out[mime] = data
            } else if let s = String(data: data, encoding: .utf8) {
                out[mime] = s
            } else {
                problem = "the value of '\(mime)' in a MIME bundle is not valid UTF-8 text"
            }
        }
        if problem != nil { dode_pop(L, 1) }   // the key lua_next left when the loop stopped early
        if let problem { throw LuaError("\(who): \(problem)") }
        return out
    }

    func installDisplayBindings() {
        def("dode._display_send", "dode._display_send(bundle [, id [, update]])", """
            Internal (dode.display): sends a MIME bundle to the notebook; returns false outside a notebook.
            """) { a in
            let bundle = try a.vm.displayBundle(at: 1, in: a.L)
            let id = try a.optString(2)
            let update = a.isNil(3) ? false : try a.bool(3)
            guard let sink = a.vm.displaySink else { return a.push(false) }
            if update && id == nil { throw a.fail(2, "a display id (updating needs one)") }
            fflush(stdout)   // what was printed before shows before the display
            sink.display(bundle, id: id, update: update)
            return a.push(true)
        }
        def("dode._display_active", "dode._display_active()", """
            Internal (dode.display): true when running in a notebook.
            """) { a in
            a.push(a.vm.displaySink != nil)
        }
        def("dode._display_register", "dode._display_register(name, metatable)", """
            Internal (dode.display): the metatable Swift gives the objects it creates (name: 'Image').
            """) { a in
            let name = try a.string(1)
            guard name == "Image" else { throw a.fail(1, "'Image'") }
            try a.table(2, "a metatable")
            lua_pushvalue(a.L, 2)
            lua_setfield(a.L, dode_registryindex(), LuaVM.imageMetatableKey)
            return 0
        }
        def("dode.image.save", "dode.image.save(img, path)  -- or img:save(path)", """
            Writes the PNG of an image object (from dode.image.grid) to path, atomically (temporary file, \
            then rename). Returns path.
            """) { a in
            try a.table(1, "an image from dode.image.grid")
            lua_pushstring(a.L, "png")
            lua_rawget(a.L, 1)   // raw: no metamethod may raise through Swift
            let png = lua_type(a.L, -1) == LUA_TSTRING ? try a.bytes(-1) : nil
            dode_pop(a.L, 1)
            guard let png else {
                throw a.fail(1, "an image from dode.image.grid (a table with its PNG bytes in `png`)")
            }
            let path = try a.string(2)
            guard !path.isEmpty else { throw a.fail(2, "a file path") }
            do { try AtomicFile.write(png, to: path) } catch let e as TensorError { throw a.error(e.message) }
            lua_pushstring(a.L, path)
            return 1
        }
    }
}
