"""The networks and what trains them: the U-Net and PatchGAN, the colorizer both models share, the GAN
and the U-Net baseline, their optimizers and metrics, inference at any size, and restoring a trained
generator for inference. Imports `tfcolor.config` and `tfcolor.data` (colour maths, image decoding).
"""
