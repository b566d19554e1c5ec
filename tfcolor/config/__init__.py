"""The run's configuration, the one authority: schema (each field with its check and help), presets,
overrides and the command-line flags built from the schema.

A run's configuration is one frozen `RunConfig` (data, model and training sections), built one way
only, `resolve(overrides, base)`. This package imports nothing heavy (no TensorFlow), so commands
check their arguments quickly.

    schema       the sections' fields, their rules and help; RunConfig (validate, JSON)
    rules        choices, value tests, the error type and its message shape
    coercion     strings and JSON lists typed as the fields declare
    presets      the original's network tables and each dataset's settings
    overrides    resolve(): a base with overrides applied, validated
    flags        the flags every command shares, from the schema
    run_layout   a run directory's files and its saved config
"""
from tfcolor.config.overrides import RESUMABLE_FIELDS, incompatible_changes, resolve
from tfcolor.config.presets import (
    NETWORK_PRESETS,
    PRESETS,
    filters_for_depth,
    general_unet,
    preset_for,
    with_network_tables,
)
from tfcolor.config.rules import CUSTOM_NETWORK, DATASETS, DEFAULT_MAX_PIXELS, ConfigError
from tfcolor.config.schema import SECTIONS, DataConfig, ModelConfig, RunConfig, TrainConfig

__all__ = ["CUSTOM_NETWORK", "DATASETS", "DEFAULT_MAX_PIXELS", "NETWORK_PRESETS", "PRESETS", "RESUMABLE_FIELDS",
           "SECTIONS", "ConfigError", "DataConfig", "ModelConfig", "RunConfig", "TrainConfig", "filters_for_depth",
           "general_unet", "incompatible_changes", "preset_for", "resolve", "with_network_tables"]
