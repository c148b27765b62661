"""Installs the dode Jupyter kernel: `Scripts/dode --install-kernel [options]`.

Uses (creating if needed) the project's virtualenv at ${XDG_CACHE_HOME:-~/.cache}/dode-venv with
ipykernel and jupyter_client from PyPI, and writes a kernelspec named `dode` whose command runs
the kernel in Kernel/dode_kernel of this checkout with that virtualenv's Python, and the dode
binary given by --dode (Scripts/dode passes the release build, built first if needed).

Options:
  --user (default)   install for the current user (~/.local/share/jupyter/kernels/dode)
  --prefix DIR       install under DIR/share/jupyter/kernels (a virtualenv, a test folder)
  --sys-prefix       install into the virtualenv itself
  --name NAME        kernelspec name (default dode)
  --display-name S   the name notebooks show (default "dode (Lua 5.4)")
  --dode PATH        the dode binary (default: .build/release/dode of this checkout)
  --test             also install nbclient and nbformat (what Tests/jupyter needs)
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "Scripts"))
import _venv  # noqa: E402

KERNEL_MODULES = ["ipykernel", "jupyter_client"]
TEST_MODULES = ["nbclient", "nbformat"]


def kernel_json(dode_bin, display_name, python=None):
    return {
        "argv": [python or sys.executable, "-m", "dode_kernel", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "lua",
        "interrupt_mode": "signal",
        "env": {"PYTHONPATH": str(ROOT / "Kernel"), "DODE_BIN": os.path.abspath(dode_bin)},
        "metadata": {"debugger": False},
    }


def install(dode_bin, name="dode", display_name="dode (Lua 5.4)", user=True, prefix=None):
    """Writes the kernelspec and returns the folder it went to."""
    from jupyter_client.kernelspec import KernelSpecManager

    if not Path(dode_bin).is_file():
        sys.exit(f"install_kernel: no dode binary at {dode_bin} (build it: Scripts/dode --version)")
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "kernel.json").write_text(json.dumps(kernel_json(dode_bin, display_name), indent=1) + "\n")
        return KernelSpecManager().install_kernel_spec(tmp, kernel_name=name, user=user and prefix is None,
                                                       prefix=prefix)


def main():
    ap = argparse.ArgumentParser(prog="Scripts/dode --install-kernel", description="Install the dode Jupyter kernel.")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="install for the current user (the default)")
    where.add_argument("--prefix", help="install under PREFIX/share/jupyter/kernels")
    where.add_argument("--sys-prefix", action="store_true", help="install into the dode virtualenv")
    ap.add_argument("--name", default="dode")
    ap.add_argument("--display-name", default="dode (Lua 5.4)")
    ap.add_argument("--dode", default=str(ROOT / ".build" / "release" / "dode"))
    ap.add_argument("--test", action="store_true", help="also install nbclient and nbformat")
    args = ap.parse_args()
    _venv.ensure(KERNEL_MODULES + (TEST_MODULES if args.test else []), venv_only=True)
    prefix = sys.prefix if args.sys_prefix else args.prefix
    dest = install(args.dode, args.name, args.display_name, prefix=prefix)
    print(f"installed the dode kernel '{args.name}' in {dest}")
    print(f"  python: {sys.executable}")
    print(f"  dode:   {os.path.abspath(args.dode)}")
    if prefix is not None:
        print(f"  (Jupyter finds it with JUPYTER_PATH={Path(prefix) / 'share' / 'jupyter'})")


if __name__ == "__main__":
    main()
