"""Shared bootstrap for dode's Python helper scripts.

Usage at the top of a script, before importing torch or anything else third-party:

    import sys, pathlib
    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
    import _venv
    _venv.ensure(["torch", "safetensors", "numpy"])

`ensure` returns immediately when every listed module imports. Otherwise it uses (creating if
needed) a virtualenv at ${XDG_CACHE_HOME:-~/.cache}/dode-venv, pip-installs the missing
packages from PyPI with a plain `pip install`, and re-executes the calling script with that
virtualenv's python and the same arguments. Only the standard library is used here.
"""

import importlib
import os
import subprocess
import sys
import venv
from pathlib import Path

# Import name -> PyPI distribution name, where they differ.
_DIST = {"PIL": "pillow"}

# Set in the environment of a re-executed process so a broken install cannot loop forever.
_MARK = "DODE_VENV_BOOTSTRAPPED"


def venv_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(cache) / "dode-venv"


def _missing(modules):
    out = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            out.append(name)
    return out


def _venv_python(root: Path) -> Path:
    if os.name == "nt":
        return root / "Scripts" / "python.exe"
    return root / "bin" / "python"


def _running_in(root: Path) -> bool:
    try:
        return Path(sys.prefix).resolve() == root.resolve()
    except OSError:
        return False


def ensure(modules, venv_only=False):
    """Make sure `modules` import, bootstrapping the dode venv and re-executing if they don't.
    With `venv_only`, also re-execute inside the dode venv when running in another Python
    (the notebook kernel is always installed from the project's venv)."""
    missing = _missing(modules)
    if venv_only and not _running_in(venv_dir()):
        missing = list(modules)
    if not missing:
        return
    root = venv_dir()
    py = _venv_python(root)
    if os.environ.get(_MARK) == "2":
        sys.exit(f"_venv: still missing {missing} after installing into {root}; giving up")

    if not py.exists():
        print(f"_venv: creating virtualenv {root}", file=sys.stderr)
        root.parent.mkdir(parents=True, exist_ok=True)
        venv.EnvBuilder(with_pip=True).create(root)

    # Find what the venv itself lacks (the current interpreter may be a different one).
    probe = ("import importlib, sys\nfor m in sys.argv[1:]:\n"
             "    try: importlib.import_module(m)\n    except ImportError: print(m)\n")
    lacking = subprocess.run([str(py), "-c", probe, *modules], capture_output=True,
                             text=True).stdout.split()
    if lacking:
        dists = [_DIST.get(m, m) for m in lacking]
        print(f"_venv: pip install {' '.join(dists)} into {root}", file=sys.stderr)
        subprocess.run([str(py), "-m", "pip", "install", *dists], check=True)

    if _running_in(root) and not lacking:
        sys.exit(f"_venv: {missing} do not import even inside {root}")
    env = dict(os.environ)
    env[_MARK] = "2" if _running_in(root) else "1"
    script = os.path.abspath(sys.argv[0])
    os.execve(str(py), [str(py), script, *sys.argv[1:]], env)
