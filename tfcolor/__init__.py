"""tfcolor: automatic colorization of grayscale photos with a conditional GAN (TensorFlow 2 / Keras 3).

Importing tfcolor turns TensorFlow's oneDNN CPU kernels on (`TF_ENABLE_ONEDNN_OPTS=1`) unless the
user has set that variable: TensorFlow turns them on by itself only on the CPUs it recognises
(recent Intel), and elsewhere (AMD, older Intel) the transposed convolutions of the U-Net run a
generic kernel about 14x slower (benchmarks/RESULTS.md). The variable is read once, when
TensorFlow loads, so every entry point imports tfcolor before TensorFlow.
"""
import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
