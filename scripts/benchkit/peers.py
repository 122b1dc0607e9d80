"""The tools timed: chatcli installed as a user would, and its peer, simonw's ``llm``.

Both live in their own virtualenvs in the work folder (``chatcli-venv``, ``llm-venv``) and both run
from bytecode compiled before anything is timed.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from benchkit.common import PIP_TIMEOUT, REPO, BenchError, progress
from benchkit.procs import run_checked
from benchkit.workspace import Workspace


@dataclass(frozen=True, slots=True)
class Peer:
    """simonw's ``llm`` installed in its own virtualenv."""

    python: Path
    llm: Path
    version: str


def compile_bytecode(peer: Peer | None) -> None:
    """Compile chatcli's package, and the peer's virtualenv, to bytecode before anything is timed.

    A user's install has its ``.pyc`` files (pip compiles what it installs); a process that finds
    none compiles every module it imports, every time when ``PYTHONDONTWRITEBYTECODE`` is set
    (as on some build machines): that would time the compiler, not the tool. Both tools get the
    same treatment, and the measured processes run without that variable (:meth:`Workspace.env`).
    """
    spec = importlib.util.find_spec("chatcli")
    if spec is None or spec.origin is None:
        raise BenchError(
            "chatcli is not importable by this interpreter: run .venv/bin/python scripts/bench.py"
        )
    targets = [(Path(sys.executable), Path(spec.origin).parent)]
    if peer is not None:
        where = run_checked(
            [peer.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], timeout=120
        )
        targets.append((peer.python, Path(where.strip())))
    for python, folder in targets:
        progress(f"compiling {folder} to bytecode")
        run_checked([python, "-m", "compileall", "-q", "-j", "0", str(folder)], timeout=PIP_TIMEOUT)


def installed_chatcli(work: Workspace) -> Path:
    """chatcli installed as the README's set-up does (``pip install .``: not editable, bytecode
    compiled by pip) in ``<workdir>/chatcli-venv``, from this checkout; its console script.

    The development virtualenv's editable install adds an import hook to every start-up (some
    30 ms) that a user's install does not have: the processes timed are the user's.
    """
    venv = work.root / "chatcli-venv"
    python = venv / "bin" / "python"
    pip: list[str | Path] = [python, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    if not python.exists():
        progress(f"installing chatcli as a user would, in {venv}")
        run_checked([sys.executable, "-m", "venv", venv], timeout=PIP_TIMEOUT)
        run_checked([*pip, REPO], timeout=PIP_TIMEOUT)
    else:
        progress(f"reinstalling this checkout of chatcli in {venv}")
        run_checked([*pip, "--no-deps", "--force-reinstall", REPO], timeout=PIP_TIMEOUT)
    return venv / "bin" / "chatcli"


def ensure_peer(work: Workspace, *, install: bool) -> tuple[Peer | None, str]:
    """The ``llm`` peer (installed on demand in ``<workdir>/llm-venv``), or None and the reason."""
    venv = work.root / "llm-venv"
    python = venv / "bin" / "python"
    llm = venv / "bin" / "llm"

    def version() -> str:
        return run_checked([llm, "--version"], env=work.env(), timeout=120).strip()

    if llm.exists():
        try:
            return Peer(python, llm, version()), ""
        except BenchError as exc:
            progress(f"the llm virtualenv is broken; reinstalling ({str(exc).splitlines()[0]})")
            shutil.rmtree(venv)
    if not install:
        return None, "not installed (--no-llm)"
    try:
        progress(f"installing the peer: {sys.executable} -m venv {venv} && pip install llm")
        run_checked([sys.executable, "-m", "venv", venv], timeout=PIP_TIMEOUT)
        run_checked(
            [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", "llm"],
            timeout=PIP_TIMEOUT,
        )
        return Peer(python, llm, version()), ""
    except BenchError as exc:
        shutil.rmtree(venv, ignore_errors=True)
        return None, "could not be installed: " + str(exc).splitlines()[0]
