"""tfcolor: automatic colorization of grayscale photos with a conditional GAN (TensorFlow 2 / Keras 3)."""

__version__ = "0.1.0"
