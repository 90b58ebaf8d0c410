"""A guard against a reference-counting defect of PySide6 6.12 on CPython 3.11.

With that combination, Qt calls hand back the ``None``, ``True`` and ``False`` singletons without
taking a reference: every call of a void method (``update``, ``processEvents``, painter calls) drops one
reference to ``None`` and every ``Signal.emit()`` drops one to ``True``. CPython 3.12+ makes these
singletons immortal, which hides the defect; on 3.11 a session of some minutes frees them and aborts
("Fatal Python error: none_dealloc" / "bool_dealloc"). Where a probe shows the leak, the singletons get
a reference count no session can exhaust (what 3.12 does). Nothing happens where the defect is absent.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_RESERVE = 1 << 40  # about a trillion leaked references


class _Probe(QObject):
    ping = Signal()


def singleton_refs_leak() -> bool:
    probe = _Probe()
    before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(8):
        probe.setObjectName("probe")  # void: returns None
        probe.ping.emit()  # returns True
    return sys.getrefcount(None) < before[0] or sys.getrefcount(True) < before[1]


def guard_singleton_refcounts() -> bool:
    """Apply the guard where needed; returns whether it was applied."""
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not singleton_refs_leak():
        return False
    for singleton in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt: first field of every object
        if refcount.value < _RESERVE:
            refcount.value += _RESERVE
    return True
