import Foundation

/// Safe file writing: data goes to a temporary file in the destination's folder, is flushed to
/// disk, then renamed over the destination, so an interrupted run never leaves a half-written
/// file where a good one was.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let dir = url.deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.isEmpty ? "." : dir, isDirectory: &isDir),
              isDir.boolValue else {
            throw TensorError("cannot write '\(path)': folder '\(dir)' does not exist")
        }
        let folder = dir.isEmpty ? "." : dir
        removeStaleTemporaries(folder: folder, name: url.lastPathComponent)
        let tmp = folder + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw TensorError("cannot write '\(path)': \(String(cString: strerror(errno)))") }
        var ok = true
        data.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = Foundation.write(fd, buf.baseAddress! + off, buf.count - off)
                if n <= 0 { ok = false; break }
                off += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false }
        let err = String(cString: strerror(errno))
        close(fd)
        guard ok, rename(tmp, path) == 0 else {
            unlink(tmp)
            throw TensorError("cannot write '\(path)': \(ok ? String(cString: strerror(errno)) : err)")
        }
        // The rename itself reaches the disk with the folder's metadata.
        let dfd = open(folder, O_RDONLY | O_DIRECTORY)
        if dfd >= 0 { _ = fsync(dfd); close(dfd) }
    }

    /// Temporary files of this name left by writers that died before their rename (`kill -9`,
    /// a power cut): `.<name>.tmp-<pid>-<random>` whose process no longer exists.
    static func removeStaleTemporaries(folder: String, name: String) {
        let prefix = "." + name + ".tmp-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for e in entries where e.hasPrefix(prefix) {
            let rest = e.dropFirst(prefix.count)
            guard let pid = rest.split(separator: "-").first.flatMap({ pid_t($0) }), pid > 0 else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH { unlink(folder + "/" + e) }
        }
    }

    /// Reads a whole file, with an error naming it.
    public static func read(_ path: String) throws -> Data {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw TensorError("cannot read '\(path)': no such file")
        }
        if isDir.boolValue { throw TensorError("cannot read '\(path)': it is a folder") }
        // A file is read whole: one larger than the size cap is refused before reading it.
        if let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber,
           size.int64Value > Int64(TensorLimits.maxBytes) {
            throw TensorError("cannot read '\(path)': its \(size.int64Value) bytes are above the size cap of " +
                              "\(TensorLimits.maxBytes) bytes (dode.limits{max_bytes =} raises it)")
        }
        guard let d = FileManager.default.contents(atPath: path) else {
            throw TensorError("cannot read '\(path)': permission denied or unreadable")
        }
        return d
    }
}
