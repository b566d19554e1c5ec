"""tfcolor: automatic colorization of grayscale photos with a conditional GAN (TensorFlow 2 / Keras 3).

Importing tfcolor turns TensorFlow's oneDNN CPU kernels on (`TF_ENABLE_ONEDNN_OPTS=1`) unless the
user has set that variable: TensorFlow turns them on by itself only on the CPUs it recognises
(recent Intel), and elsewhere (AMD, older Intel) the transposed convolutions of the U-Net run a
generic kernel about 14x slower (benchmarks/RESULTS.md). The variable is read once, when
TensorFlow loads, so every entry point imports tfcolor before TensorFlow.

It also sets TensorFlow's C++ logging to warnings and above (`TF_CPP_MIN_LOG_LEVEL=1`), unless the
user has set that variable: at the default (0) every command starts with TensorFlow's informational
lines (oneDNN is on, no CUDA driver found, which CPU instructions the build uses), which say nothing
about the user's run. Warnings and errors still show.
"""
import importlib.util
import os

if importlib.util.find_spec("tensorflow") is None:
    raise ImportError("TensorFlow is not installed. It is an extra of tfcolor, one per build: "
                      "pip install 'tfcolor[cpu]' (no NVIDIA GPU) or 'tfcolor[gpu]'; `make` picks one.")

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")

__version__ = "0.1.0"
