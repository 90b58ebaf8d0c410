"""The runtime (``app`` without ``app.gui``) works where PySide6 and torch cannot be imported."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import app

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import importlib, sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'PySide6', 'shiboken6', 'pyqtgraph'):
            raise ImportError(f'{name} is blocked in this test')
        return None

sys.meta_path.insert(0, Refuse())
for module in sys.argv[1:]:
    importlib.import_module(module)
from app.cli import main
assert main(['--help']) == 0
leaked = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')]
assert not leaked, leaked
print('ok')
"""


def test_runtime_modules_import_without_pyside6_and_torch():
    modules = [m.name for m in pkgutil.walk_packages(app.__path__, "app.") if not m.name.startswith("app.gui")]
    assert {"app.pipeline", "app.classifier", "app.analyze_cmd", "app.sessions.recorder"} <= set(modules)
    done = subprocess.run([sys.executable, "-c", PROBE, "app", *modules], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-2000:]


def test_the_probe_really_blocks():
    done = subprocess.run([sys.executable, "-c", PROBE, "torch"], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode != 0 and "torch is blocked" in done.stderr
