"""`python tests/two_cpu_devices.py ARGS...`: `python -m tfcolor.train ARGS...` with the CPU split into two
logical devices, so `--strategy mirrored` trains on two replicas on a machine without GPUs."""
import sys

import tfcolor  # noqa: F401  (first: TensorFlow's runtime options)

# isort: split
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

from tfcolor import train  # noqa: E402

sys.exit(train.main(sys.argv[1:]))
