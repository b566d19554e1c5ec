"""Training a run: the loop, its callbacks, checkpoints (saving, restoring, resuming) and the runtime
(devices, precision, XLA, tf.distribute strategies). Imports the layers below it, never export or serving.
"""
