"""EPIR Live runtime: video sources, face tracking, spotting, flow, ONNX inference and the pipeline.

Nothing in this package (outside ``app.gui``) imports PySide6 or torch.
"""

__version__ = "0.1.0"
