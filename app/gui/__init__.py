"""The PySide6 desktop app (DESIGN.md section 2): only ``main.py`` at the repository root imports it.

Qt-free state lives in ``records`` and ``export``; threads live behind the helpers in ``workers``;
widgets only paint what those give them.
"""
