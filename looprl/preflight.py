"""Checks of a config's inputs that look outside the config, run before any model loads or any run
folder is written (`looprl train`, `looprl eval` and `looprl demo` call them right after loading).

Pydantic checks each field's type and range when the config loads (looprl.config); what it cannot
see without looking at the disk or the registries is checked here, cheaply:

* the model: a local folder holding a transformers model (config.json), a Hugging Face id of the
  form NAMESPACE/NAME (in the local cache when HF_HUB_OFFLINE is set), a built-in name ('smollm2'),
  or, for evaluation, openai:NAME; the adapter folder when one is given;
* the env: a registered name, and options it accepts (the env is built once and closed: that is
  cheap for the built-in ones, and it is the only test of options that covers every env);
* the tasks: split names the env has, the config's task fields as the env's own selection takes them
  (and that the training pool they pick is not empty), and explicit task ids the env knows;
* what the method needs from the data (`check_method_data`): for SFT-GT a ground-truth solution for
  every training task, where the env's tasks may lack one;
* a managed vLLM server on a machine without a GPU (`check_vllm_sampler`): a model whose attention
  head size vLLM's CPU kernels have.

Every problem is a `ConfigError` naming the field, the value given and what is allowed; the CLI
prints it and exits 2. Nothing here loads a model, starts a sandbox worker or writes a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from looprl.config import ConfigError

OPENAI_PREFIX = "openai:"


def check_train_config(cfg: Any) -> None:
    """Everything `looprl train` reads from outside its config (a TrainConfig)."""
    check_model(cfg.model.name_or_path, cfg.model.adapter_path)
    check_env(cfg.env.name, cfg.env.options, build=cfg.rollout.mode == "local")
    check_tasks(cfg.env.name, cfg.env.options, cfg.tasks)
    check_method_data(cfg)
    check_vllm_sampler(cfg)


def check_eval_config(cfg: Any) -> None:
    """Everything `looprl eval` reads from outside its config (an EvalConfig)."""
    name = cfg.model.name_or_path
    if not (name.startswith(OPENAI_PREFIX) or cfg.rollout.backend == "openai"):  # a served model: nothing local to check
        check_model(name, cfg.model.adapter_path, allow_openai=True)
    check_env(cfg.env.name, cfg.env.options, build=cfg.rollout.mode == "local")
    if cfg.task_ids:
        check_task_ids(cfg.env.name, cfg.task_ids, field="task_ids", options=cfg.env.options)
    else:
        check_split(cfg.env.name, cfg.split, cfg.env.options, field="split")


def _looks_like_hub_id(name: str) -> bool:
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        return False
    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return True


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def check_model(name: str, adapter_path: str | None = None, *, allow_openai: bool = False) -> None:
    """model.name_or_path (and model.adapter_path) name something a backend can load."""
    from looprl.backends import BUILTIN_MODELS

    allowed = (
        "a local model folder (with config.json), a Hugging Face model id (NAMESPACE/NAME), "
        + ", ".join(repr(m) for m in BUILTIN_MODELS)
        + " (built in)"
        + (", or openai:NAME" if allow_openai else "")
    )
    if name not in BUILTIN_MODELS:
        path = Path(name).expanduser()
        if path.exists():
            if not path.is_dir():
                raise ConfigError(f"model.name_or_path={name!r} is a file, not a model folder; allowed: {allowed}")
            if not (path / "config.json").is_file():
                raise ConfigError(f"model.name_or_path={name!r}: the folder has no config.json, so it is not a transformers model folder; allowed: {allowed}")
        elif not _looks_like_hub_id(name):
            raise ConfigError(f"model.name_or_path={name!r}: no such folder, and not a Hugging Face model id; allowed: {allowed}")
        elif _offline():
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(name, "config.json"), str):
                raise ConfigError(
                    f"model.name_or_path={name!r}: no such folder, and HF_HUB_OFFLINE is set while the model is "
                    "not in the local Hugging Face cache; download it first or give a local folder"
                )
    if adapter_path is not None:
        path = Path(adapter_path).expanduser()
        if path.exists():
            if not (path / "adapter_config.json").is_file():
                raise ConfigError(f"model.adapter_path={adapter_path!r} holds no adapter_config.json; give a peft LoRA adapter folder")
        elif not _looks_like_hub_id(adapter_path):
            raise ConfigError(f"model.adapter_path={adapter_path!r}: no such folder; give a peft LoRA adapter folder")


def check_env(name: str, options: Mapping[str, Any], *, build: bool = True) -> None:
    """env.name is registered, and (with `build`) env.options are options that env accepts."""
    from looprl.env import make_env, registered_envs

    names = registered_envs()
    if name not in names:
        raise ConfigError(f"env.name={name!r} is not a registered env; registered envs: {', '.join(names)} (register your own with looprl.env.register_env)")
    if not build:  # Ray mode: envs are built in the cluster's actors, which may see other files
        return
    try:
        env = make_env(name, **dict(options))
    except (TypeError, ValueError, OSError) as exc:
        raise ConfigError(f"env.options={dict(options)!r} do not fit env {name!r}: {exc}") from None
    env.close()


def check_tasks(env_name: str, options: Mapping[str, Any], tasks: Any) -> None:
    """A TrainConfig's `tasks` section fits the env: explicit ids it knows; its splits; the training
    pool the env's own selection picks from the task fields, not empty. An env without a task lookup
    needs explicit ids, and then its splits are not used."""
    from looprl.env.base import TaskSelectionError, find_task_lookup
    from looprl.env.task_ids import task_ids

    if tasks.task_ids:
        check_task_ids(env_name, tasks.task_ids, field="tasks.task_ids", options=options)
        if find_task_lookup(env_name) is None:
            return
    check_split(env_name, tasks.train_split, options, field="tasks.train_split")
    check_split(env_name, tasks.dev_split, options, field="tasks.dev_split")
    if tasks.task_ids:
        return
    try:
        task_ids(env_name, tasks.train_split, options, tasks.selection_fields())
    except TaskSelectionError as exc:
        raise ConfigError(exc.under("tasks.")) from None
    except ValueError as exc:  # no tasks left, or an env's own complaint about its root
        raise ConfigError(f"tasks.train_split={tasks.train_split!r}: {exc}") from None


def check_split(env_name: str, split: str, options: Mapping[str, Any], *, field: str) -> None:
    """A split name the env has (`TaskLookup.splits`; the toy env has none: its option n_tasks says
    which tasks there are). An env without a task lookup has no splits: the error says to give ids."""
    from looprl.env.base import task_lookup

    try:
        splits = task_lookup(env_name).splits(dict(options))
    except ValueError as exc:  # e.g. AppWorld without a root, or an env without a lookup
        raise ConfigError(f"{field}={split!r}: {exc}") from None
    if splits is not None and split not in splits:
        raise ConfigError(f"{field}={split!r} is not a split of env {env_name!r}; splits: {', '.join(splits) or 'none found'}")


def check_task_ids(env_name: str, ids: Sequence[str], *, field: str, options: Mapping[str, Any] | None = None) -> None:
    """Explicit task ids exist, as far as the env can tell without being built (`TaskLookup.check_task_ids`:
    the built-in world checks every id, envs that can only tell on reset, or have no lookup, accept them all)."""
    from looprl.env.base import find_task_lookup

    lookup = find_task_lookup(env_name)
    if lookup is None:
        return
    try:
        lookup.check_task_ids(list(ids), dict(options or {}))
    except ValueError as exc:
        raise ConfigError(f"{field}: {exc.args[0] if exc.args else exc}") from None


def check_method_data(cfg: Any) -> None:
    """SFT-GT's ground truths exist for every training task: found here, not in iteration 1 after the
    model has loaded. An env whose tasks may lack a solution (AppWorld's test splits ship none) says so
    with the class-level `SolutionCheck` (looprl/env/base.py); the built-in world's always have one.
    Runs after `check_tasks`, so the training pool is known to be there."""
    from looprl.env.base import solution_check
    from looprl.training.methods.facts import METHODS, GroundTruthChats
    from looprl.training.trainer import resolve_task_ids

    if not isinstance(METHODS[cfg.trainer.method].data, GroundTruthChats):
        return
    checker = solution_check(cfg.env.name)
    if checker is None:
        return
    where = "tasks.task_ids" if cfg.tasks.task_ids else "tasks.train_split"
    ids = resolve_task_ids(cfg, cfg.tasks.train_split)
    try:
        checker.check_solutions(ids, dict(cfg.env.options))
    except ValueError as exc:
        raise ConfigError(f"trainer.method={cfg.trainer.method!r} trains on ground-truth solutions, but {where}={cfg.tasks.train_split!r}: {exc}") from None


VLLM_UNSERVABLE_LORA_MODULES = ("lm_head", "embed_tokens")


def check_vllm_sampler(cfg: Any) -> None:
    """A vLLM server started here without a GPU runs vLLM's CPU attention, which has only some head
    sizes; another one passes start-up and fails the first request (HTTP 500), so it is refused here.
    So is a LoRA on lm_head or the embeddings sent as a LoRA: vLLM loads LoRA weights only on the
    attention and MLP projections, and its first hot-swap, after iteration 1's update, fails with HTTP 500."""
    if cfg.rollout.backend != "vllm":
        return
    _check_vllm_head_size(cfg)
    unservable = [m for m in cfg.lora.target_modules if m in VLLM_UNSERVABLE_LORA_MODULES]
    if cfg.rollout.adapter_sync == "lora" and unservable:
        raise ConfigError(
            f"rollout.backend='vllm' with rollout.adapter_sync='lora' cannot serve a LoRA on {unservable} (vLLM loads LoRA weights "
            f"only on the attention and MLP projections); lora.target_modules={cfg.lora.target_modules}: drop {unservable}, "
            "or set rollout.adapter_sync=merged (the adapter merged into the served weights)"
        )


def _check_vllm_head_size(cfg: Any) -> None:
    if cfg.rollout.vllm_url:  # a server started elsewhere: its machine, not this one, decides
        return
    path = Path(cfg.model.name_or_path).expanduser()
    if not (path / "config.json").is_file():  # a hub id or built-in name: nothing local to read cheaply
        return
    from looprl.backends.vllm import CPU_ATTENTION_HEAD_SIZES, _cpu_only

    if not _cpu_only():
        return
    import json

    config = json.loads((path / "config.json").read_text())
    heads, hidden = config.get("num_attention_heads"), config.get("hidden_size")
    head_dim = config.get("head_dim") or (hidden // heads if heads and hidden else None)
    if head_dim is not None and head_dim not in CPU_ATTENTION_HEAD_SIZES:
        raise ConfigError(
            f"rollout.backend='vllm' on a machine without a GPU runs vLLM's CPU attention, which has head sizes "
            f"{', '.join(map(str, CPU_ATTENTION_HEAD_SIZES))}; model.name_or_path={cfg.model.name_or_path!r} has head size {head_dim} "
            f"(hidden_size {hidden} / {heads} heads): use rollout.backend=transformers, or a model with a supported head size"
        )
