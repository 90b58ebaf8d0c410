"""The PySide6 desktop app (DESIGN.md section 2): only ``main.py`` at the repository root imports it.

Qt-free: ``controller`` (the app's state, live sessions and the analysis thread), ``records``, ``export``
and ``live_session``; the window's own threads live in ``workers``; widgets only paint what those give them.
"""
