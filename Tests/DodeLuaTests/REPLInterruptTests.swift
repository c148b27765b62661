import XCTest
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Ctrl-C in the REPL during a long `sample` stops it and keeps the session: the dode executable
/// runs on a pseudo-terminal (so it is the interactive REPL, with libedit), gets SIGINT as a
/// terminal's Ctrl-C sends it, prints the "interrupted" error, and answers the next line.
final class REPLInterruptTests: XCTestCase {
    /// The dode executable built next to this test bundle.
    var dodeBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dode").path
    }

    func testCtrlCStopsALongSampleAndKeepsTheSession() throws {
        guard FileManager.default.isExecutableFile(atPath: dodeBinary) else {
            throw XCTSkip("no dode executable next to the test bundle (\(dodeBinary))")
        }
        var master: Int32 = -1, slave: Int32 = -1
        XCTAssertEqual(openpty(&master, &slave, nil, nil, nil), 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        for fd in [Int32(0), 1, 2] { posix_spawn_file_actions_adddup2(&actions, slave, fd) }
        posix_spawn_file_actions_addclose(&actions, master)
        var pid: pid_t = 0
        let history = NSTemporaryDirectory() + "dode-repl-history-\(getpid())"
        let envStrings = ["DODE_HISTORY=\(history)", "TERM=dumb", "HOME=\(NSTemporaryDirectory())"]
        let env: [UnsafeMutablePointer<CChar>?] = envStrings.map { strdup($0) } + [nil]
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(dodeBinary), nil]
        XCTAssertEqual(posix_spawn(&pid, dodeBinary, &actions, nil, argv, env), 0)
        close(slave)
        defer {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
            close(master)
            try? FileManager.default.removeItem(atPath: history)
        }

        var output = ""
        /// Reads until `text` appears (or the deadline passes); returns whether it did.
        func read(until text: String, within seconds: Double) -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            var buf = [UInt8](repeating: 0, count: 4096)
            while Date() < deadline {
                var p = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, 100) > 0 {
                    let n = Glibc.read(master, &buf, buf.count)
                    if n <= 0 { break }
                    output += String(decoding: buf[0..<n], as: UTF8.self)
                }
                if output.contains(text) { return true }
            }
            return output.contains(text)
        }
        func send(_ line: String) { _ = line.withCString { write(master, $0, strlen($0)) } }

        XCTAssertTrue(read(until: "> ", within: 20), "no prompt: \(output)")
        send("vp = dode.schedule.vp{}; den = dode.data.mixture('blobs32d', vp); " +
             "x = dode.randn(dode.Generator(1), 200000, 32)\n")
        send("grid = dode.grid.discrete(vp, 999, {spacing = 'trailing'}); marker = 'ready'; print(marker .. '!')\n")
        XCTAssertTrue(read(until: "ready!", within: 30), "setup did not finish: \(output)")
        output = ""
        let t0 = Date()
        send("y = dode.solver.dpmpp{order = 2}:sample(den, x, grid)\n")
        usleep(800_000)
        kill(pid, SIGINT)                       // what the terminal sends on Ctrl-C
        XCTAssertTrue(read(until: "interrupted", within: 20), "no interrupt message: \(output)")
        XCTAssertLessThan(Date().timeIntervalSince(t0), 15, "the sample should stop within a step")
        output = ""
        send("print(y == nil, 6 * 7)\n")
        XCTAssertTrue(read(until: "true\t42", within: 20), "the session did not answer after the interrupt: \(output)")
        // Ctrl-D at the prompt ends the REPL. It is pressed once the line editor has taken the
        // terminal out of canonical mode, as a user's key after the prompt is: the editor prints
        // the prompt first, and a Ctrl-D typed ahead in canonical mode reaches it as a stray
        // character instead of an end of file (the terminal driver's behaviour for typeahead).
        XCTAssertTrue(read(until: "42\r\n> ", within: 20), "no prompt after the answer: \(output)")
        var mode = termios()
        let ready = Date().addingTimeInterval(10)
        while tcgetattr(master, &mode) == 0 && mode.c_lflag & tcflag_t(ICANON) != 0 && Date() < ready {
            usleep(20_000)
        }
        XCTAssertEqual(mode.c_lflag & tcflag_t(ICANON), 0, "the line editor never took the terminal")
        send("\u{4}")
        var status: Int32 = 0, reaped: pid_t = 0
        let deadline = Date().addingTimeInterval(10)
        while reaped == 0 && Date() < deadline {
            reaped = waitpid(pid, &status, WNOHANG)
            if reaped == 0 { usleep(50_000) }
        }
        XCTAssertEqual(reaped, pid, "the REPL did not end within 10 s of Ctrl-D at the prompt: \(output)")
        // WIFEXITED(status) && WEXITSTATUS(status) == 0 (the macros are not imported into Swift).
        XCTAssertTrue(status & 0x7f == 0 && (status >> 8) & 0xff == 0,
                      "the REPL exits with status 0 on Ctrl-D (wait status \(status))")
    }
}
