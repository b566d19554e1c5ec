"""TF-Serving warm-up requests: `assets.extra/tf_serving_warmup_requests` inside a version folder.

TF-Serving replays these `PredictionLog` records when it loads a version, before marking it
AVAILABLE, so the first real request does not pay for graph initialisation.
"""
from __future__ import annotations

from pathlib import Path

import tensorflow as tf
from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

WARMUP_FILE = Path("assets.extra") / "tf_serving_warmup_requests"


def sample_png(size: int) -> bytes:
    """A small colourful gradient image: any valid photo-like input exercises the whole graph."""
    ramp = tf.linspace(0.0, 1.0, size)
    rgb = tf.stack(tf.meshgrid(ramp, ramp[::-1]) + [tf.fill([size, size], 0.5)], axis=-1)
    return tf.io.encode_png(tf.image.convert_image_dtype(rgb, tf.uint8)).numpy()


def write_warmup(version_dir: Path, model_name: str, image_size: int) -> Path:
    """Write one `serving_default` request with a PNG of the model's size; returns the file."""
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = "serving_default"
    request.inputs["image_bytes"].CopyFrom(tf.make_tensor_proto([sample_png(image_size)], dtype=tf.string))
    log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
    path = Path(version_dir) / WARMUP_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(log.SerializeToString())
    return path


def read_warmup(version_dir: Path) -> list[prediction_log_pb2.PredictionLog]:
    """The warm-up records of a version folder (none when it has no warm-up file)."""
    path = Path(version_dir) / WARMUP_FILE
    if not path.is_file():
        return []
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in tf.data.TFRecordDataset(str(path))]
