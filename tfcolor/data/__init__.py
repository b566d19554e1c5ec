"""Photos to batches: where a dataset's photos are, reading them (bad ones skipped and counted), and the
`tf.data` pipelines that turn them into Lab batches. Imports only `tfcolor.config`.

A new kind of dataset is one module with `open_splits` returning two `sources.Source`s, and a line in
`datasets.OPENERS`.
"""
