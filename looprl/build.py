"""The one place that turns a config into objects: the policy, the sampling backend, the env factory,
sampling parameters, the rollout settings, and a run folder's run.json/config.yaml.

`looprl train` (the Trainer), `looprl eval` and the demo all build through here, so a setting means
the same thing in each of them:

    policy   = build_policy(train_cfg)                       # the trainable HFBackend (LoRA, policy temperature)
    sampler  = build_sampling_backend(cfg, policy)           # what samples rollouts: the policy itself, vLLM, an OpenAI endpoint
    envs     = build_env_factory(cfg)                        # zero-argument env factory (Ray actors for rollout.mode=ray)
    spec     = rollout_spec(cfg, max_turns=cfg.env.eval_max_turns, model_name=...)   # a RolloutSpec
    write_run_files(out, cfg, kind="eval", split=cfg.split, command="looprl eval")

`cfg` is a TrainConfig or an EvalConfig (the sections read here, model/env/rollout/seed, are shared).
Heavy imports (torch, transformers, Ray) happen inside the functions that need them.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from looprl.backends.base import ChatBackend, PolicyBackend, SamplingParams, TrainableBackend
from looprl.config import FIXED_DATA_METHODS, EvalConfig, RolloutConfig, TrainConfig
from looprl.preflight import OPENAI_PREFIX

if TYPE_CHECKING:
    from looprl.env.base import Env
    from looprl.rollout.spec import RolloutSpec

__all__ = [
    "build_env_factory",
    "build_policy",
    "build_sampling_backend",
    "policy_temperature",
    "rollout_spec",
    "sampling_params",
    "write_run_files",
]

AnyConfig = TrainConfig | EvalConfig


def policy_temperature(cfg: TrainConfig) -> float:
    """The temperature T of the policy being trained, softmax(logits / T): the rollouts' sampling
    temperature for methods that learn from their own samples (so the importance ratios compare the
    probabilities the samples were drawn with), 1 for methods that fit fixed data (SFT-GT, RFT)."""
    return 1.0 if cfg.trainer.method in FIXED_DATA_METHODS else cfg.rollout.sampling.temperature


def build_policy(cfg: TrainConfig, device: str | None = None) -> TrainableBackend:
    """The policy a training run updates: transformers + peft with the config's LoRA, at the method's
    policy temperature."""
    from looprl.backends.hf import HFBackend

    return HFBackend(
        cfg.model.name_or_path,
        dtype=cfg.model.dtype,
        lora=cfg.lora,
        adapter_path=cfg.model.adapter_path,
        device=device,
        gradient_checkpointing=cfg.model.gradient_checkpointing,
        attn_implementation=cfg.model.attn_implementation,
        seed=cfg.seed,
        policy_temperature=policy_temperature(cfg),
    )


def overlapped_sampler_cores(rollout: RolloutConfig, training: bool) -> list[int] | None:
    """The cores a sampler computes on when it samples while the trainer updates (training with
    rollout.max_staleness > 0: its own half, looprl.training.pipeline.sampler_cores); None otherwise."""
    if not (training and rollout.max_staleness > 0):
        return None
    from looprl.training.pipeline import sampler_cores

    return list(sampler_cores())


def sampler_in_child_process(rollout: RolloutConfig, training: bool) -> bool:
    """Whether an in-process sampler (llama.cpp, OpenVINO) runs in a child process (rollout.sampler_process):
    'auto' moves OpenVINO's there when it samples while the trainer updates (its step() holds the GIL)."""
    if rollout.sampler_process == "auto":
        return rollout.backend == "openvino" and training and rollout.max_staleness > 0
    return rollout.sampler_process


def _in_process_sampler(rollout: RolloutConfig, training: bool, target: str, name: str, kwargs: dict, cores: list[int] | None) -> PolicyBackend:
    """`target` ("module:Class") built with the model `name` and `kwargs`, here or in a child process pinned to `cores`."""
    if sampler_in_child_process(rollout, training):
        from looprl.backends.process import ProcessBackend

        return ProcessBackend(target, {"model_name_or_path": name, **kwargs}, cores=cores)
    import importlib

    module, _, cls = target.partition(":")
    return getattr(importlib.import_module(module), cls)(name, **kwargs)


def build_sampling_backend(cfg: AnyConfig, policy: TrainableBackend | None = None) -> PolicyBackend | ChatBackend:
    """What samples the rollouts, by rollout.backend:

    * "transformers": `policy` itself when training (one copy in memory, always the current adapter);
      for evaluation (no policy) a transformers model without a fresh LoRA, with model.adapter_path loaded;
    * "vllm": a vLLM server (rollout.vllm_url, or one started here with the config's context length,
      dtype, seed and LoRA rank) that gets adapters hot-swapped (or merged, rollout.adapter_sync);
    * "llamacpp": llama.cpp's in-process server on a GGUF export of the model with the adapter merged
      (rollout.llamacpp_tensor_type), one slot per concurrent episode, each slot the config's context length;
    * "openvino": openvino-genai's continuous-batching pipeline on an OpenVINO IR export of the model
      (rollout.openvino_weight_format), the adapter applied at run time; temperature 1 or greedy;
    llama.cpp's and OpenVINO's run in this process, or in a child one (rollout.sampler_process,
    `sampler_in_child_process`: OpenVINO's by default when sampling overlaps the update);
    * "openai", or a model named openai:NAME: an OpenAI-compatible chat endpoint (rollout.vllm_url
      when set). Evaluation only: training needs token ids and logprobs.
    """
    name, rollout = cfg.model.name_or_path, cfg.rollout
    training = isinstance(cfg, TrainConfig)
    if name.startswith(OPENAI_PREFIX) or rollout.backend == "openai":
        if training:
            raise ValueError(
                f"rollout.backend={rollout.backend!r} cannot train: training needs token ids and logprobs "
                "(use 'transformers' or 'vllm'; 'openai' is for evaluation)"
            )
        from looprl.backends.openai import OpenAIChatBackend

        model_id = name.removeprefix(OPENAI_PREFIX)
        if rollout.vllm_url:  # any OpenAI-compatible server, e.g. a vLLM one serving NAME
            return OpenAIChatBackend(model_id, base_url=rollout.vllm_url.rstrip("/") + "/v1")
        return OpenAIChatBackend(model_id)
    if rollout.backend == "vllm":
        from looprl.backends.vllm import VLLM_SERVER_LOG, VLLMBackend, _cpu_only

        # sized to the run (the longest token stream an episode reaches, the requests in flight): the
        # server's start-up forward covers max_model_len tokens over max_num_seqs sequences
        server = {"max_model_len": rollout.sampling.max_context_tokens, "max_num_seqs": rollout.concurrency, "dtype": cfg.model.dtype, "seed": cfg.seed}
        if training:
            server["max_lora_rank"] = cfg.lora.r  # the adapters it will be sent are the config's
            cores = overlapped_sampler_cores(rollout, training)
            if cores and not rollout.vllm_url and _cpu_only():  # a CPU server of its own: bound to the sampler's cores
                server["env"] = {"VLLM_CPU_OMP_THREADS_BIND": ",".join(map(str, cores))}
            server["log_path"] = Path(cfg.run_dir) / VLLM_SERVER_LOG  # kept with the run: it holds the cause of a server failure
        return VLLMBackend(
            name,
            base_url=rollout.vllm_url,
            concurrency=rollout.concurrency,
            adapter_path=cfg.model.adapter_path,
            adapter_sync=rollout.adapter_sync,
            server_kwargs=server,
            server_restarts=rollout.vllm_restarts,
        )
    if rollout.backend == "llamacpp":
        cores = overlapped_sampler_cores(rollout, training)
        kwargs = {
            "adapter_path": cfg.model.adapter_path,
            "tensor_type": None if rollout.llamacpp_tensor_type == "auto" else rollout.llamacpp_tensor_type,
            "n_threads": len(cores) if cores else None,
            "concurrency": rollout.concurrency,
            "context_length": rollout.sampling.max_context_tokens,
            "seed": cfg.seed,
        }
        return _in_process_sampler(rollout, training, "looprl.backends.llamacpp:LlamaCppBackend", name, kwargs, cores)
    if rollout.backend == "openvino":
        cores = overlapped_sampler_cores(rollout, training)
        kwargs = {
            "adapter_path": cfg.model.adapter_path,
            "weight_format": rollout.openvino_weight_format,
            "n_threads": len(cores) if cores else None,
            "concurrency": rollout.concurrency,
            "seed": cfg.seed,
        }
        return _in_process_sampler(rollout, training, "looprl.backends.openvino:OpenVINOBackend", name, kwargs, cores)
    if policy is not None:
        return policy
    if training:
        return build_policy(cfg)
    from looprl.backends.hf import HFBackend

    return HFBackend(
        name, dtype=cfg.model.dtype, lora=None, adapter_path=cfg.model.adapter_path, attn_implementation=cfg.model.attn_implementation, seed=cfg.seed
    )


def build_env_factory(cfg: AnyConfig) -> Callable[[], "Env"]:
    """A zero-argument env factory for env.name with env.options. With rollout.mode "ray" each env
    lives in a Ray actor, and Ray is initialized here when it is not yet: it joins the cluster Ray is
    configured for (RAY_ADDRESS), else starts a local one."""
    name, options = cfg.env.name, dict(cfg.env.options)
    if cfg.rollout.mode == "ray":
        import ray

        from looprl.rollout.ray_collector import RayEnvFactory

        if not ray.is_initialized():
            ray.init()
        return RayEnvFactory(name, options)
    from looprl.env import make_env  # make_env registers the built-in envs ("toy" included) itself

    return lambda: make_env(name, **options)


def sampling_params(cfg: AnyConfig, *, temperature: float | None = None, seeded: bool = True) -> SamplingParams:
    """rollout.sampling as SamplingParams (`temperature` overrides the configured one), seeded with the
    config's seed. Seeded sampling makes an evaluation repeatable whatever else ran before it. A
    training run's own collection passes `seeded=False`: a fixed seed would give every generate() call
    the same random draws, turn after turn and iteration after iteration; its randomness comes from
    the policy's generator instead, which is seeded with the same cfg.seed and checkpointed."""
    s = cfg.rollout.sampling
    return SamplingParams(
        temperature=s.temperature if temperature is None else temperature,
        top_p=s.top_p,
        top_k=s.top_k,
        max_new_tokens=s.max_new_tokens,
        seed=cfg.seed if seeded else None,
    )


def rollout_spec(cfg: AnyConfig, *, max_turns: int, temperature: float | None = None, seeded: bool = True, model_name: str | None = None) -> "RolloutSpec":
    """The RolloutSpec a config asks for: its scaffold (the env's own default prompt for
    rollout.scaffold 'default'), context and observation budgets, concurrency and batch size, sampler
    retries and env timeout, with `sampling_params(cfg, temperature=..., seeded=...)`. `max_turns` is
    env.max_turns for training episodes and env.eval_max_turns for evaluation ones; `model_name`
    (default model.name_or_path) is recorded in every trajectory."""
    from looprl.agent import scaffold_for
    from looprl.rollout.spec import RolloutSpec

    return RolloutSpec(
        sampling=sampling_params(cfg, temperature=temperature, seeded=seeded),
        scaffold=scaffold_for(cfg.rollout.scaffold, env=cfg.env.name),
        max_turns=max_turns,
        max_context_tokens=cfg.rollout.sampling.max_context_tokens,
        max_observation_tokens=cfg.env.max_observation_tokens,
        concurrency=cfg.rollout.concurrency,
        generation_batch_size=cfg.rollout.generation_batch_size,
        model_name=cfg.model.name_or_path if model_name is None else model_name,
        sampler_retries=cfg.rollout.sampler_retries,
        env_timeout_s=cfg.rollout.env_timeout_s,
    )


def write_run_files(
    out: str | Path, cfg: AnyConfig, *, kind: str, split: str | None, method: str | None = None, name: str | None = None, command: str | None = None
) -> None:
    """A run folder's identity, written before any rollout so that a crashed run is still identifiable
    (docs/run-layout.md): config.yaml (the config as loaded) and run.json (kind "train"|"eval", name,
    model, adapter, method, split, env, seed, created, command, hardware: looprl.utils.hardware).
    `name` defaults to the folder's name,
    `command` to this process's `looprl ...` command line."""
    from looprl.config import dump_config
    from looprl.utils.hardware import describe_hardware
    from looprl.utils.io import atomic_write_json, atomic_write_text

    out = Path(out)
    atomic_write_text(out / "config.yaml", dump_config(cfg))
    atomic_write_json(
        out / "run.json",
        {
            "kind": kind,
            "name": name or out.name,
            "model": cfg.model.name_or_path,
            "adapter": cfg.model.adapter_path,
            "method": method,
            "split": split,
            "env": cfg.env.name,
            "seed": cfg.seed,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": command or " ".join(["looprl", *sys.argv[1:]]),
            "hardware": describe_hardware(),
        },
    )
