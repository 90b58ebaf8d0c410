"""Training side: the EPIR network (PyTorch), datasets, the synthetic benchmark, LOSO training and ONNX export.

May import the runtime's preprocessing from ``app`` so that training and live inference share it.
"""
