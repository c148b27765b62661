"""Headless tests of the dode Jupyter kernel (Kernel/dode_kernel + dode --kernel-server).

Runs Examples/quickstart.ipynb with nbclient in quick mode (DODE_QUICK=1) and checks the MIME
types of every output, that the PNGs decode and the SVGs parse; then, on one kernel, errors with
the Lua traceback, interrupts of a long sample, a long fit and a Lua loop (the kernel answers
afterwards, with its globals), the order of print and displays, progress bars updated in place,
the last-expression rules, completion, inspection, is_complete, and a restart after os.exit.

The kernelspec goes into a temporary prefix, and every Jupyter folder (config, data, runtime)
points into a temporary folder, so the user's Jupyter set-up is never read or written.

    python3 Tests/jupyter/test_kernel.py [-v] [TestCase.test_name]

The first run creates the project's virtualenv (ipykernel, jupyter_client, nbclient, nbformat
from PyPI); DODE_BIN names the dode binary (default .build/release/dode).
"""

import base64
import os
import pathlib
import shutil
import struct
import sys
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET
import zlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Scripts"))
import _venv  # noqa: E402

_venv.ensure(["ipykernel", "jupyter_client", "nbclient", "nbformat"], venv_only=True)

TMP = tempfile.mkdtemp(prefix="dode-jupyter-test-")
for _var, _sub in [("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                   ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython")]:
    os.environ[_var] = os.path.join(TMP, _sub)
PREFIX = os.path.join(TMP, "prefix")
os.environ["JUPYTER_PATH"] = os.path.join(PREFIX, "share", "jupyter")
os.environ["JUPYTER_PLATFORM_DIRS"] = "1"
os.environ["DODE_QUICK"] = "1"
DODE_BIN = os.environ.get("DODE_BIN") or str(ROOT / ".build" / "release" / "dode")

import install_kernel  # noqa: E402
import nbformat  # noqa: E402
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

KERNEL = "dode"


# -- checks of output content -------------------------------------------------------------------

def decode_png(data):
    """Decodes an 8-bit grey/RGB PNG far enough to prove it is whole: signature, chunk CRCs,
    IHDR, and IDAT inflating to exactly one filter byte plus one row of pixels per row."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature"
    i, idat, ihdr = 8, b"", None
    while i < len(data):
        n, kind = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        crc = struct.unpack(">I", data[i + 8 + n:i + 12 + n])[0]
        assert zlib.crc32(kind + body) == crc, f"CRC of {kind!r}"
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        i += 12 + n
    assert ihdr is not None, "IHDR"
    w, h, depth, ctype = ihdr[:4]
    assert depth == 8 and ctype in (0, 2), f"8-bit grey or RGB (got depth {depth}, type {ctype})"
    raw = zlib.decompress(idat)
    assert len(raw) == h * (1 + w * (1 if ctype == 0 else 3)), "pixel data size"
    return w, h


def parse_svg(text):
    root = ET.fromstring(text.encode("utf-8"))
    assert root.tag.endswith("svg"), f"root element {root.tag}"
    return root


def png_of(output):
    return base64.b64decode(output["data"]["image/png"])


# -- a kernel and its messages ------------------------------------------------------------------

class Session:
    def __init__(self):
        self.km = KernelManager(kernel_name=KERNEL)
        self.km.start_kernel(cwd=TMP)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)

    def close(self):
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)

    def run(self, code, timeout=60, interrupt_after=None):
        """Executes code; returns (reply content, iopub messages of this request, seconds)."""
        msg_id = self.kc.execute(code)
        timer = None
        if interrupt_after is not None:
            timer = threading.Timer(interrupt_after, self.km.interrupt_kernel)
            timer.start()
        t0 = time.time()
        msgs = []
        while True:
            m = self.kc.get_iopub_msg(timeout=timeout)
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                break
            if m["msg_type"] not in ("status", "execute_input"):
                msgs.append(m)
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        if timer:
            timer.cancel()
        return reply["content"], msgs, time.time() - t0


def kinds(msgs):
    return [m["msg_type"] for m in msgs]


def texts(msgs, name="stdout"):
    return "".join(m["content"]["text"] for m in msgs if m["msg_type"] == "stream" and m["content"]["name"] == name)


# -- the example notebook -----------------------------------------------------------------------

class QuickstartNotebook(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.work = os.path.join(TMP, "notebook")
        os.makedirs(cls.work)
        nb = nbformat.read(ROOT / "Examples" / "quickstart.ipynb", as_version=4)
        t0 = time.time()
        NotebookClient(nb, kernel_name=KERNEL, timeout=600, resources={"metadata": {"path": cls.work}}).execute()
        cls.seconds = time.time() - t0
        cls.cells = [c for c in nb.cells if c.cell_type == "code"]
        print(f"\n  quickstart.ipynb ran in {cls.seconds:.1f} s", file=sys.stderr)

    def outputs(self, i, kind=None):
        return [o for o in self.cells[i].outputs if kind is None or o.output_type == kind]

    def test_no_errors_and_settings(self):
        for i, c in enumerate(self.cells):
            self.assertFalse(self.outputs(i, "error"), f"cell {i} raised: {self.outputs(i, 'error')}")
        self.assertIn("quick = true", "".join(o.text for o in self.outputs(0, "stream")))
        self.assertIn("Fréchet floor", "".join(o.text for o in self.outputs(1, "stream")))

    def test_progress_bar_is_one_display(self):
        outs = self.outputs(2)
        self.assertEqual([o.output_type for o in outs], ["display_data"],
                         "one display, updated in place, no stream lines")
        text = outs[0].data["text/plain"]
        self.assertTrue(text.startswith("fit + evaluate") and "12/12" in text and "100%" in text, text)

    def test_table_is_html(self):
        outs = self.outputs(3)
        self.assertEqual([o.output_type for o in outs], ["execute_result"])
        data = outs[0].data
        self.assertEqual(set(data), {"text/html", "text/plain"})
        html = data["text/html"]
        self.assertTrue(html.startswith("<table") and html.endswith("</table>"))
        self.assertEqual(html.count("<tr>"), 13, "header and 12 rows")
        for s in ("DPM-Solver++(2M)", "blobs32d", "rmse_base"):
            self.assertIn(s, html)
        self.assertIn("rmse_base", data["text/plain"].splitlines()[0])
        # The table as a tree: every row has nine cells.
        root = ET.fromstring(html)
        for row in root.iter("tr"):
            self.assertEqual(len(list(row)), 9)

    def test_charts_are_svg(self):
        outs = self.outputs(4)
        self.assertEqual([o.output_type for o in outs], ["display_data", "display_data"])
        for o, prob in zip(outs, ("digits", "blobs32d")):
            self.assertEqual(set(o.data), {"image/svg+xml", "text/plain"})
            root = parse_svg(o.data["image/svg+xml"])
            title = root.find("{http://www.w3.org/2000/svg}title")
            self.assertIn(prob, title.text)
            self.assertIn(f"rmse_vs_nfe_{prob}.svg", o.data["text/plain"])

    def test_sample_grids_are_png(self):
        outs = self.outputs(5)
        self.assertEqual([o.output_type for o in outs], ["stream", "display_data", "display_data", "display_data"] * 3,
                         "a label, then base, D and reference, for each solver")
        labels = [o.text for o in outs if o.output_type == "stream"]
        self.assertEqual(labels, ["DDIM, 5 steps: base, D, reference\n",
                                  "DPM-Solver++(2M), 5 steps: base, D, reference\n",
                                  "Heun, 3 steps: base, D, reference\n"])
        for o in outs:
            if o.output_type == "display_data":
                self.assertEqual(set(o.data), {"image/png", "text/plain"})
                self.assertEqual(decode_png(png_of(o)), (265, 265), "8x8 digits at scale 4 with padding")

    def test_files_still_written(self):
        out = os.path.join(self.work, "out", "quickstart_nb")
        names = set(os.listdir(out))
        for n in ("results.csv", "results.json", "rmse_vs_nfe_digits.svg", "rmse_vs_nfe_blobs32d.svg",
                  "digits_ddim_5_base.png", "digits_heun_3_reference.png"):
            self.assertIn(n, names)
        self.assertEqual(len([n for n in names if n.endswith(".png")]), 9)
        self.assertEqual(len([n for n in names if n.startswith("fit_")]), 12)
        with open(os.path.join(out, "digits_ddim_5_base.png"), "rb") as f:
            png = f.read()
        self.assertEqual(png, png_of(self.outputs(5, "display_data")[0]), "the file is the PNG shown")
        self.assertFalse([n for n in names if ".tmp" in n], "no temporary files left")


# -- one kernel, many requests ------------------------------------------------------------------

LONG_SAMPLE = """vp = dode.schedule.vp{}
den = dode.data.mixture('blobs32d', vp)
grid = dode.grid.discrete(vp, 999, {spacing = 'trailing'})
x = dode.solver.dpmpp{order = 2}:sample(den, dode.randn(dode.Generator(1), 200000, 32), grid)"""

LONG_FIT = """fit = dode.distill.fit{solver = dode.solver.ddim(), denoiser = den, \
x = dode.randn(dode.Generator(1), 100000, 32),
  grid = dode.grid.discrete(vp, 10, {spacing = 'trailing'}), k = 100, progress = true}"""


class Kernel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Session()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def value(self, code):
        reply, msgs, _ = self.s.run(code)
        self.assertEqual(reply["status"], "ok", reply)
        results = [m for m in msgs if m["msg_type"] == "execute_result"]
        return results[0]["content"]["data"] if results else None

    def test_error_has_the_lua_traceback_and_the_next_cell_runs(self):
        reply, msgs, _ = self.s.run("local a = 1\ndode.zeros(2, -1)")
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "LuaError")
        self.assertRegex(reply["evalue"], r"^In\[\d+\]:2: dode\.zeros: "
                         r"argument 2 must be a non-negative integer size \(got -1\)$")
        self.assertIn("stack traceback:", reply["traceback"])
        self.assertTrue(any("dode.zeros" in line for line in reply["traceback"][2:]), reply["traceback"])
        errors = [m for m in msgs if m["msg_type"] == "error"]
        self.assertEqual(len(errors), 1, "the cell shows an error output")
        self.assertEqual(errors[0]["content"]["traceback"], reply["traceback"])
        self.assertEqual(self.value("1 + 1")["text/plain"], "2")
        reply, _, _ = self.s.run("x = = 1")
        self.assertEqual((reply["status"], reply["ename"]), ("error", "SyntaxError"))
        self.assertIn("unexpected symbol", reply["evalue"])
        reply, _, _ = self.s.run("error({})")
        self.assertEqual(reply["status"], "error")

    def test_interrupt_a_long_sample_then_the_kernel_answers(self):
        reply, msgs, dt = self.s.run(LONG_SAMPLE, interrupt_after=1.0)
        self.assertEqual(reply["status"], "error")
        self.assertEqual(reply["ename"], "Interrupted")
        self.assertIn("Solver:sample: interrupted", reply["evalue"])
        self.assertLess(dt, 6, "stopped within a step of the interrupt")
        # Same process, same globals: the lines before the sample ran.
        self.assertEqual(self.value("x == nil and den ~= nil and #grid")["text/plain"], "1000")

    def test_interrupt_a_long_fit_and_a_lua_loop(self):
        self.s.run(LONG_SAMPLE.rsplit("\n", 1)[0])
        reply, msgs, dt = self.s.run(LONG_FIT, interrupt_after=2.0)
        self.assertEqual((reply["status"], reply["ename"]), ("error", "Interrupted"), reply)
        self.assertIn("dode.distill.fit: interrupted", reply["evalue"])
        self.assertLess(dt, 8)
        shown = [m for m in msgs if m["msg_type"] in ("display_data", "update_display_data")]
        self.assertTrue(shown and shown[0]["content"]["data"]["text/plain"].startswith("teacher pass"),
                        "fit progress shows as one display")
        self.assertEqual({m["content"]["transient"]["display_id"] for m in shown}.__len__(), 1)
        self.assertEqual(texts(msgs, "stderr"), "", "not as stderr lines")
        reply, _, dt = self.s.run("local i = 0\nwhile true do i = i + 1 end", interrupt_after=0.5)
        self.assertEqual((reply["status"], reply["ename"]), ("error", "Interrupted"))
        self.assertLess(dt, 5)
        self.assertEqual(self.value("'still here'")["text/plain"], "still here")

    def test_print_and_displays_keep_their_order(self):
        reply, msgs, _ = self.s.run(
            "for i = 1, 3 do\n  print('line ' .. i)\n  dode.display(dode.display.html('<b>' .. i .. '</b>'))\nend\n"
            "io.write('no newline'); io.stderr:write('to stderr\\n')\nprint('end')")
        self.assertEqual(reply["status"], "ok")
        seq = []
        for m in msgs:
            if m["msg_type"] == "stream":
                seq.append(m["content"]["text"])
            elif m["msg_type"] == "display_data":
                seq.append(m["content"]["data"]["text/html"])
        joined = "|".join(seq)
        self.assertTrue(joined.startswith("line 1\n|<b>1</b>|line 2\n|<b>2</b>|line 3\n|<b>3</b>|"), joined)
        self.assertIn("no newline", texts(msgs))
        self.assertTrue(texts(msgs).endswith("end\n"))
        self.assertEqual(texts(msgs, "stderr"), "to stderr\n")

    def test_progress_bar_updates_one_display(self):
        reply, msgs, _ = self.s.run(
            "local p = require('dode.progress').new{total = 40, label = 'work'}\n"
            "for i = 1, 40 do local t = dode.clock() while dode.clock() - t < 0.01 do end p:advance() end\np:finish();")
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(texts(msgs, "stderr") + texts(msgs), "", "no stream lines")
        ks = kinds(msgs)
        self.assertEqual(ks[0], "display_data")
        self.assertTrue(len(ks) >= 2 and set(ks[1:]) == {"update_display_data"}, ks)
        ids = {m["content"]["transient"]["display_id"] for m in msgs}
        self.assertEqual(len(ids), 1)
        self.assertIn("40/40", msgs[-1]["content"]["data"]["text/plain"])

    def test_last_expression_rules(self):
        self.assertEqual(self.value("local a = 2\n-- a comment\na * 3\n")["text/plain"], "6")
        svg = self.value("plot = require 'dode.plot'\nplot.line{\n  series = {{y = {1, 2, 3}}},\n}")
        self.assertEqual(set(svg), {"image/svg+xml", "text/plain"})
        parse_svg(svg["image/svg+xml"])
        self.assertEqual(svg["text/plain"], "[dode.Chart line 640x420, 1 series]", "the chart, not its counts")
        img = self.value("dode.image.grid(dode.randn(dode.Generator(1), 4, 64))")
        self.assertEqual(decode_png(base64.b64decode(img["image/png"])), (133, 34))
        self.assertIsNone(self.value("for i = 1, 2 do\n  local y = i\nend"),
                          "a loop shows nothing (no return inside it)")
        self.assertIsNone(self.value("plot.line{series = {{y = {1}}}};"), "a trailing ; hides the value")
        self.assertIsNone(self.value("y = 5"))
        self.assertEqual(self.value("y, 'a'")["text/plain"], "5\ta")
        self.assertIsNone(self.value("print('x')"), "print returns nothing")
        t = self.value("tb = require('dode.table').new{columns = {'a', 'b'}}\ntb:add{1, '<x>'}\ntb")
        self.assertIn("<td style=\"text-align:left\">&lt;x&gt;</td>", t["text/html"])

    def test_completion(self):
        self.s.run("zz = dode.zeros(2)\nzt = {count = 1}")
        r = self.s.kc.complete("x = dode.sch", 12, reply=True)["content"]
        self.assertEqual((r["status"], r["cursor_start"], r["cursor_end"]), ("ok", 4, 12))
        self.assertIn("dode.schedule", r["matches"])
        r = self.s.kc.complete("zz:no", 5, reply=True)["content"]
        self.assertEqual(r["matches"], ["zz:norm"])
        r = self.s.kc.complete("dode.solver.dp", 14, reply=True)["content"]
        self.assertEqual(r["matches"], ["dode.solver.dpm", "dode.solver.dpm2", "dode.solver.dpmpp"])
        r = self.s.kc.complete("zt.co", 5, reply=True)["content"]
        self.assertEqual(r["matches"], ["zt.count"])
        self.assertEqual(self.s.kc.complete("1 + ", 4, reply=True)["content"]["matches"], [])

    def test_inspection_is_help(self):
        code = "y = dode.linspace(0, 1, 5)"
        r = self.s.kc.inspect(code, code.index("(") + 1, reply=True)["content"]
        self.assertTrue(r["found"])
        self.assertIn("dode.linspace(a, b, n", r["data"]["text/plain"])
        self.assertIn("evenly spaced", r["data"]["text/plain"])
        r = self.s.kc.inspect("dode.solver.ddim", 8, reply=True)["content"]
        self.assertTrue(r["found"] and "ddim" in r["data"]["text/plain"])
        r = self.s.kc.inspect("no_such_thing", 5, reply=True)["content"]
        self.assertFalse(r["found"])

    def test_is_complete(self):
        def status(code):
            msg_id = self.s.kc.is_complete(code)
            reply = self.s.kc.get_shell_msg(timeout=10)
            self.assertEqual(reply["parent_header"]["msg_id"], msg_id)
            return reply["content"]["status"]
        self.assertEqual(status("for i = 1, 2 do"), "incomplete")
        self.assertEqual(status("x = 1"), "complete")
        self.assertEqual(status("1 + 1"), "complete")
        self.assertEqual(status("x = = 1"), "invalid")

    def test_zz_exit_starts_a_new_process(self):
        self.s.run("kept = 1")
        reply, _, _ = self.s.run("os.exit(3)")
        self.assertEqual((reply["status"], reply["ename"]), ("error", "DodeExited"))
        self.assertIn("status 3", reply["evalue"])
        self.assertEqual(self.value("kept == nil")["text/plain"], "true", "a fresh dode process")
        self.assertEqual(self.value("2 ^ 10")["text/plain"], "1024.0")


if __name__ == "__main__":
    try:
        install_kernel.install(DODE_BIN, name=KERNEL, prefix=PREFIX)
        t0 = time.time()
        # warnings="ignore": jupyter_client's synchronous wrappers leave asyncio loops to the GC.
        result = unittest.main(exit=False, verbosity=2 if "-v" in sys.argv else 1, warnings="ignore").result
        print(f"jupyter tests: {time.time() - t0:.1f} s", file=sys.stderr)
        ok = result.wasSuccessful()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(0 if ok else 1)
