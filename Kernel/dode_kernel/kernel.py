"""The dode wrapper kernel.

Each kernel starts one `dode --kernel-server IN OUT` child (in its own session, so that only this
kernel signals it) and keeps it for the whole notebook: globals persist from cell to cell, as in
the REPL. The two talk through frames on two pipes (4-byte big-endian length, then UTF-8 JSON;
Sources/dode/KernelServer.swift describes the messages); the child's standard output and error
are ordinary pipes whose text is forwarded as `stream` messages.

Order of output: the child flushes its standard output before every frame and waits for an ack
after each display frame; here the pipes are drained before a frame is handled and the ack is
sent only after that, so text printed before a display shows before it and text printed after
shows after it.

Interrupts: while a request runs, SIGINT received by this process (the kernelspec's
`interrupt_mode: signal`, or ipykernel's own handling of an interrupt_request) is forwarded to the
child, where it becomes the Lua error "interrupted" and the session goes on.
"""

import codecs
import errno
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess

from ipykernel.kernelbase import Kernel

from . import __version__


class ChildExited(Exception):
    """The dode process ended (os.exit in a cell, or a crash)."""


class DodeProcess:
    """One `dode --kernel-server` child and its pipes."""

    def __init__(self, binary):
        req_r, req_w = os.pipe()
        ev_r, ev_w = os.pipe()
        self.proc = subprocess.Popen(
            [binary, "--kernel-server", str(req_r), str(ev_w)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            pass_fds=(req_r, ev_w), start_new_session=True, close_fds=True)
        os.close(req_r)
        os.close(ev_w)
        self.req = req_w
        self.ev = ev_r
        self.streams = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        self.decoders = {fd: codecs.getincrementaldecoder("utf-8")(errors="replace") for fd in self.streams}
        for fd in [self.ev, *self.streams]:
            os.set_blocking(fd, False)
        self.buf = bytearray()
        self.eof = False

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def request(self, obj):
        data = json.dumps(obj).encode("utf-8")
        frame = struct.pack(">I", len(data)) + data
        view = memoryview(frame)
        try:
            while view:
                n = os.write(self.req, view)
                view = view[n:]
        except (BrokenPipeError, OSError) as e:
            raise ChildExited(str(e)) from None

    def ack(self):
        self.request({"op": "ack"})

    def drain(self, emit):
        """Reads whatever the child wrote to its standard output and error, and emits it."""
        for fd, name in self.streams.items():
            chunks = []
            while True:
                try:
                    data = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                except OSError as e:
                    if e.errno == errno.EINTR:
                        continue
                    break
                if not data:
                    break
                chunks.append(data)
            text = self.decoders[fd].decode(b"".join(chunks)) if chunks else ""
            if text and emit is not None:
                emit(name, text)

    def _pop_frame(self):
        if len(self.buf) < 4:
            return None
        n = struct.unpack(">I", self.buf[:4])[0]
        if len(self.buf) < 4 + n:
            return None
        body = bytes(self.buf[4:4 + n])
        del self.buf[:4 + n]
        return json.loads(body.decode("utf-8"))

    def frames(self, emit):
        """Yields the child's frames until the caller stops; streams are emitted in between,
        and everything written before a frame is emitted before the frame is yielded."""
        while True:
            frame = self._pop_frame()
            if frame is not None:
                self.drain(emit)
                yield frame
                continue
            if self.eof:
                self.drain(emit)
                raise ChildExited("the dode process closed its pipe")
            try:
                ready, _, _ = select.select([self.ev, *self.streams], [], [])
            except InterruptedError:
                continue
            if any(fd in self.streams for fd in ready):
                # Only streams: safe to forward now (a frame read later is written after them).
                if self.ev not in ready:
                    self.drain(emit)
            if self.ev in ready:
                try:
                    data = os.read(self.ev, 1 << 20)
                except BlockingIOError:
                    continue
                if not data:
                    self.eof = True
                self.buf += data

    def close(self, timeout=3.0):
        try:
            self.request({"op": "shutdown"})
        except ChildExited:
            pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.req, self.ev):
            try:
                os.close(fd)
            except OSError:
                pass
        self.proc.stdout.close()
        self.proc.stderr.close()


_NAME_LEFT = re.compile(r"[A-Za-z_][\w.:]*$")
_NAME_RIGHT = re.compile(r"\w*")


def _name_at(code, pos):
    """The dotted name (a.b, x:m) at the cursor, or the function called around it (dode.randn(|)."""
    left, right = code[:pos], code[pos:]
    m = _NAME_LEFT.search(left)
    if m:
        return (m.group(0) + _NAME_RIGHT.match(right).group(0)).rstrip(".:")
    depth = 0
    for i in range(len(left) - 1, -1, -1):
        c = left[i]
        if c in ")}":
            depth += 1
        elif c in "({":
            if depth == 0:
                m = re.search(r"([A-Za-z_][\w.:]*)\s*$", left[:i])
                return m.group(1).rstrip(".:") if m else ""
            depth -= 1
    return ""


class DodeKernel(Kernel):
    implementation = "dode"
    implementation_version = __version__
    language = "lua"
    language_version = "5.4"
    language_info = {
        "name": "lua",
        "version": "5.4",
        "mimetype": "text/x-lua",
        "file_extension": ".lua",
        "codemirror_mode": "lua",
        "pygments_lexer": "lua",
    }
    banner = "dode: Lua 5.4 with the dode module (help() for an overview, help(x) for any function)"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.binary = os.environ.get("DODE_BIN") or shutil.which("dode")
        if not self.binary:
            raise RuntimeError("dode kernel: set DODE_BIN to the dode binary (Scripts/dode --install-kernel does)")
        self.child = None
        self.restarted = False

    # -- the child ---------------------------------------------------------------------------

    def _child(self):
        if self.child is None or not self.child.alive():
            if self.child is not None:
                self.child.close(timeout=0.5)
            self.child = DodeProcess(self.binary)
        return self.child

    def _lost_child(self):
        status = self.child.proc.wait() if self.child else None
        self.child.close(timeout=0.5)
        self.child = None
        return status

    # -- interrupts: SIGINT during a request goes to the child -------------------------------

    def pre_handler_hook(self):
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._forward_sigint)

    def post_handler_hook(self):
        signal.signal(signal.SIGINT, self.saved_sigint_handler)

    def _forward_sigint(self, signum, frame):
        child = self.child
        if child is not None and child.alive():
            try:
                os.kill(child.pid, signal.SIGINT)
            except OSError:
                pass

    # -- output ------------------------------------------------------------------------------

    def _emit_stream(self, name, text):
        self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})

    def _emit_display(self, frame):
        content = {"data": frame.get("data", {}), "metadata": {}, "transient": {}}
        if frame.get("id"):
            content["transient"]["display_id"] = frame["id"]
        kind = "update_display_data" if frame.get("update") else "display_data"
        self.send_response(self.iopub_socket, kind, content)

    # -- requests ----------------------------------------------------------------------------

    async def do_execute(self, code, silent, store_history=True, user_expressions=None,
                         allow_stdin=False, *, cell_meta=None, cell_id=None):
        ok = {"status": "ok", "execution_count": self.execution_count, "payload": [], "user_expressions": {}}
        if not code.strip():
            return ok
        emit = None if silent else self._emit_stream
        error = None
        child = self._child()
        try:
            child.request({"op": "execute", "code": code, "count": self.execution_count})
            for frame in child.frames(emit):
                kind = frame.get("type")
                if kind == "display":
                    if not silent:
                        self._emit_display(frame)
                    child.ack()
                elif kind == "result":
                    if not silent:
                        self.send_response(self.iopub_socket, "execute_result", {
                            "execution_count": self.execution_count, "data": frame.get("data", {}), "metadata": {}})
                elif kind == "done":
                    if frame.get("status") != "ok":
                        error = {"ename": frame.get("ename", "LuaError"), "evalue": frame.get("evalue", ""),
                                 "traceback": frame.get("traceback", [])}
                    break
        except ChildExited:
            status = self._lost_child()
            msg = (f"the dode process exited (status {status}); a new one starts with the next cell, "
                   "without the globals of this session")
            error = {"ename": "DodeExited", "evalue": msg, "traceback": [msg]}
        if error is None:
            return ok
        if not silent:
            self.send_response(self.iopub_socket, "error", error)
        return {"status": "error", "execution_count": self.execution_count, **error}

    def _ask(self, obj):
        """A request answered by one reply frame (completion, inspection, is_complete)."""
        child = self._child()
        try:
            child.request(obj)
            for frame in child.frames(self._emit_stream):
                if frame.get("type") == "display":
                    self._emit_display(frame)
                    child.ack()
                elif frame.get("type") == "reply":
                    return frame
        except ChildExited:
            self._lost_child()
        return {}

    async def do_complete(self, code, cursor_pos):
        if cursor_pos is None:
            cursor_pos = len(code)
        m = _NAME_LEFT.search(code[:cursor_pos])
        token = m.group(0) if m else ""
        matches = self._ask({"op": "complete", "text": token}).get("matches", []) if token or not code.strip() else []
        return {"status": "ok", "matches": matches, "cursor_start": cursor_pos - len(token),
                "cursor_end": cursor_pos, "metadata": {}}

    async def do_inspect(self, code, cursor_pos, detail_level=0, omit_sections=()):
        if cursor_pos is None:
            cursor_pos = len(code)
        name = _name_at(code, cursor_pos)
        text = self._ask({"op": "inspect", "text": name}).get("text") if name else None
        if not text:
            return {"status": "ok", "found": False, "data": {}, "metadata": {}}
        return {"status": "ok", "found": True, "data": {"text/plain": text}, "metadata": {}}

    async def do_is_complete(self, code):
        status = self._ask({"op": "is_complete", "code": code}).get("status", "unknown")
        reply = {"status": status}
        if status == "incomplete":
            reply["indent"] = "  "
        return reply

    async def do_shutdown(self, restart):
        if self.child is not None:
            self.child.close()
            self.child = None
        return {"status": "ok", "restart": restart}
