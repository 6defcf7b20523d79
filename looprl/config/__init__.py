"""Typed configuration: the config models of every entry point and the strict loader.

* `models.py`   the pydantic models (`TrainConfig` for `looprl train` and the recipes in configs/,
  `EvalConfig` for `looprl eval`, `DemoConfig` for `looprl demo`) and their sections;
* `loading.py`  `load_config` (YAML file + dotted ``--set`` overrides, rejected loudly at load),
  `dump_config`, `field_help` and the `StrictModel` base every section derives from.

Importing this package loads pydantic and yaml, never torch: the CLI reads configs before any model.
"""

from looprl.config.loading import ConfigError, StrictModel, apply_overrides, deep_merge, dump_config, field_help, load_config
from looprl.config.models import (
    DEMO_SCENARIOS,
    FIXED_DATA_METHODS,
    METHODS,
    DemoConfig,
    EnvConfig,
    EvalConfig,
    LoggingConfig,
    LoraConfig,
    ModelConfig,
    RolloutConfig,
    SamplingConfig,
    TasksConfig,
    TaskSelection,
    TrainConfig,
    TrainerConfig,
)

__all__ = [
    "ConfigError",
    "StrictModel",
    "apply_overrides",
    "deep_merge",
    "dump_config",
    "field_help",
    "load_config",
    "DEMO_SCENARIOS",
    "FIXED_DATA_METHODS",
    "METHODS",
    "DemoConfig",
    "EnvConfig",
    "EvalConfig",
    "LoggingConfig",
    "LoraConfig",
    "ModelConfig",
    "RolloutConfig",
    "SamplingConfig",
    "TasksConfig",
    "TaskSelection",
    "TrainConfig",
    "TrainerConfig",
]
