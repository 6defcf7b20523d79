"""The config models of looprl's entry points. Defaults follow the LOOP paper (arXiv 2502.01600)
and its reference code; see ../shared/PAPER_NOTES.md. Every field's description is its --help line.

`TrainConfig` is the root for `looprl train` and for the recipes in configs/; `EvalConfig` for
`looprl eval`. Sections are shared so one YAML recipe can drive both.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from looprl.config.loading import StrictModel
from looprl.training.methods import facts as registry  # the method registry, torch-free

# the method names and facts come from the registry (looprl/training/methods/facts.py)
METHODS = tuple(registry.METHODS)
Method = Literal[METHODS]  # type: ignore[valid-type]
# methods that fit fixed data (ground-truth chats, the base model's samples) instead of learning from the
# policy's own samples: their policy is the model at temperature 1 whatever rollout.sampling says
FIXED_DATA_METHODS = tuple(name for name, m in registry.METHODS.items() if m.data.fixed)
OFF_POLICY_METHODS = tuple(name for name, m in registry.METHODS.items() if m.off_policy)  # may train on stale rollouts
MAX_STALENESS = 4  # rollout.max_staleness's bound
IN_PROCESS_SAMPLERS = ("llamacpp", "openvino")  # samplers rollout.sampler_process may move into a child process


class ModelConfig(StrictModel):
    name_or_path: str = Field("smollm2", description="HF model id or local folder; 'smollm2' = the model made by `looprl models smollm2`")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("float32", description="weights dtype for the trainer/sampler")
    gradient_checkpointing: bool = Field(False, description="trade compute for memory in the backward pass")
    attn_implementation: str | None = Field(None, description="transformers attention kernel (e.g. sdpa, flash_attention_2); None = default")
    adapter_path: str | None = Field(None, description="start from this peft LoRA adapter folder instead of a fresh one")


class LoraConfig(StrictModel):
    r: int = Field(16, ge=1, le=1024, description="LoRA rank")
    alpha: int = Field(32, ge=1, description="LoRA alpha (scaling = alpha / r)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="LoRA dropout")
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="module names that get LoRA adapters",
    )


class EnvConfig(StrictModel):
    name: str = Field("appsuite", description="registered env name: appsuite (built-in world), appworld, or your own")
    options: dict[str, Any] = Field(default_factory=dict, description="extra keyword arguments for make_env")
    max_turns: int = Field(40, ge=1, le=1000, description="turn limit per training episode (paper: 40)")
    eval_max_turns: int = Field(50, ge=1, le=1000, description="turn limit per evaluation episode (paper: 50)")
    max_observation_tokens: int = Field(3000, ge=16, description="environment output is cut at this many tokens, with a note")


_SELECTION_FIELDS = ("instances", "scenarios", "instance_start", "fresh_instances")  # the fields each env selects with (TaskSelection, TasksConfig)


class TaskSelection(StrictModel):
    """The fields that pick tasks for envs that draw instances of scenarios (the built-in world);
    each env says which it takes (its `task_selection`, see looprl.env.base.TaskLookup). Training
    (`TasksConfig`) and evaluation (`EvalConfig.tasks`) select with the same fields."""

    instances: int | None = Field(
        None,
        ge=1,
        description="built-in world: instances per scenario (`<scenario>_1..N`; None = the split's canonical 3, the paper's 72 training tasks)",
    )
    scenarios: list[str] | None = Field(
        None, description="built-in world: only these scenarios of the split (None = all of them); training on some draws held-out instances from them too"
    )
    instance_start: int = Field(1, ge=1, description="built-in world: the first instance number (instances start .. start + instances - 1 of every scenario)")

    def selection_fields(self) -> dict[str, Any]:
        """What the env's `task_selection` gets: every selection field this config sets away from its
        default (so an env is asked only about what it is given)."""
        fields: dict[str, Any] = {}
        for name in _SELECTION_FIELDS:
            if name in type(self).model_fields and getattr(self, name) != type(self).model_fields[name].default:
                fields[name] = getattr(self, name)
        return fields


class TasksConfig(TaskSelection):
    train_split: str = Field("train", description="split the training tasks come from")
    dev_split: str = Field("dev", description="split for periodic evaluation and best-checkpoint selection")
    difficulties: list[int] = Field(default_factory=lambda: [1, 2], description="task difficulties used for training (paper: 1-2)")
    task_ids: list[str] | None = Field(None, description="explicit training task ids (overrides split/difficulties)")
    fresh_instances: bool = Field(
        False,
        description="built-in world: after a pass over the pool, draw the next `instances` "
        "instances of every scenario instead of repeating the pool, so no task is trained on twice",
    )
    max_dev_tasks: int | None = Field(None, ge=1, description="evaluate on at most this many dev tasks (None = all)")

    @model_validator(mode="after")
    def _check_difficulties(self) -> "TasksConfig":
        bad = [d for d in self.difficulties if d not in (1, 2, 3)]
        if bad:
            raise ValueError(f"difficulties must be drawn from 1, 2, 3; got {bad}")
        return self

    def selection_fields(self) -> dict[str, Any]:
        """What the env's `task_selection` gets for the training split: `difficulties`, and the
        selection fields set away from their defaults (`fresh_instances` among them)."""
        return {"difficulties": list(self.difficulties), **super().selection_fields()}


class SamplingConfig(StrictModel):
    temperature: float = Field(
        1.0,
        ge=0.0,
        description="sampling temperature; in training (> 0) the trained policy is softmax(logits / temperature), so sampler and trainer agree (paper: 1.0)",
    )
    top_p: float = Field(1.0, gt=0.0, le=1.0, description="nucleus sampling mass (training: 1.0, required)")
    top_k: int = Field(0, ge=0, description="top-k sampling; 0 = off (training: off, required)")
    max_new_tokens: int = Field(1500, ge=1, description="new tokens per agent turn (paper: 1,500)")
    max_context_tokens: int = Field(32768, ge=128, description="an episode that fills this context ends (truncated)")


class RolloutConfig(StrictModel):
    backend: Literal["transformers", "vllm", "llamacpp", "openvino", "openai"] = Field(
        "transformers",
        description="policy backend that samples rollouts ('llamacpp': llama.cpp's in-process server on a GGUF export with the adapter merged, "
        "pip install 'looprl[llamacpp]'; 'openvino': openvino-genai's continuous-batching pipeline on an OpenVINO IR export with the "
        "adapter applied at run time, temperature 1 or greedy only, pip install 'looprl[openvino]')",
    )
    llamacpp_tensor_type: Literal["auto", "f32", "f16", "bf16", "q8_0"] = Field(
        "auto",
        description="rollout.backend=llamacpp: the weights' type in the GGUF it serves; 'auto' = bf16 where the CPU has AVX-512 BF16 or AMX, "
        "else f32 (f32 samples the trainer's policy exactly; bf16/q8_0 are a sampler of its own, corrected by the off-policy weights)",
    )
    openvino_weight_format: Literal["int8", "fp16", "fp32"] = Field(
        "int8",
        description="rollout.backend=openvino: the weights of the IR it samples with; int8 is the fast one (3.4x the vLLM CPU server on the "
        "demo) and a sampler of its own, off the trainer's float32 policy: with rollout.max_staleness >= 1 the decoupled loss corrects "
        "with its logprobs, at 0 the trainer's recomputed logprobs are the ratio's denominator and the mismatch stays uncorrected; "
        "fp32 samples the trainer's policy to float rounding",
    )
    sampler_process: Literal["auto"] | bool = Field(
        "auto",
        description="rollout.backend=llamacpp or openvino: run the sampler in a child process of its own (true; looprl/backends/process.py) "
        "or in this one (false); 'auto' = a child for openvino when training samples while the trainer updates "
        "(rollout.max_staleness >= 1): its step() holds the GIL and would stall the trainer's thread in this process",
    )
    mode: Literal["local", "ray"] = Field("local", description="run environments in this process's workers, or as Ray actors")
    concurrency: int = Field(32, ge=1, description="episodes alive at once (their generation is batched)")
    generation_batch_size: int = Field(16, ge=1, description="prompts per generate() call")
    early_stop: bool = Field(True, description="stop once every task has >= floor(0.75 K) rollouts (4 of 6, paper) and 90% of all are done")
    scaffold: str = Field(
        "default",
        description="agent prompt: a built-in set ('default', or 'appworld' when env.name is appworld; "
        "'compact' for small models/CPUs; 'terse', no worked example, for a model warmed up with SFT-GT; "
        "looprl/agent/prompts/), a YAML file of prompt pieces, or 'env' for the env's own messages",
    )
    vllm_url: str | None = Field(None, description="OpenAI-compatible vLLM server (http://127.0.0.1:PORT); None = start one")
    vllm_restarts: int = Field(
        2, ge=0, le=10, description="a started (not a given) vLLM server that dies is restarted, its requests sent again, up to this many times per process"
    )
    adapter_sync: Literal["lora", "merged"] = Field(
        "lora",
        description="how the trained adapter reaches a vLLM server: 'lora' hot-swaps it; 'merged' merges it into the "
        "base weights and has the server reload them in place (2.2x faster sampling on vLLM's CPU backend here; the server "
        "needs VLLM_SERVER_DEV_MODE=1, set when looprl starts it; small models only, the merge runs in the trainer's process)",
    )
    sampler_retries: int = Field(
        2, ge=0, le=10, description="a failed generate/chat call is sent again up to this many times before its episode ends as infra-failed"
    )
    env_timeout_s: float | None = Field(
        600.0, gt=0.0, le=86400.0, description="an env reset/step running longer than this (seconds) ends its episode as infra-failed; null waits forever"
    )
    sampling: SamplingConfig = Field(default_factory=SamplingConfig, description="sampling parameters")
    max_staleness: int = Field(
        0,
        ge=0,
        le=MAX_STALENESS,
        description="policy versions a training rollout may lag behind the policy it updates: 0 = the synchronous loop "
        "(sample, then update); s > 0 samples iteration i+s while iteration i updates (1: the paper's one-step overlap), "
        f"and the loss reweights the stale rollouts (looprl/training/pipeline.py); at most {MAX_STALENESS}: each step keeps "
        "one more batch in flight and moves the sampler further from the policy it trains",
    )

    @model_validator(mode="after")
    def _check_sampler_process(self) -> "RolloutConfig":
        if self.sampler_process is True and self.backend not in IN_PROCESS_SAMPLERS:
            raise ValueError(
                f"rollout.sampler_process=true with rollout.backend={self.backend!r}: only {' and '.join(IN_PROCESS_SAMPLERS)} "
                "run in a child process (vLLM is a server of its own; transformers samples with the trained model); use 'auto' or false"
            )
        return self

    @model_validator(mode="after")
    def _check_openvino_temperature(self) -> "RolloutConfig":
        # openvino-genai's logprobs are log-softmax(logits) before the temperature: the contract's
        # log-softmax(logits / T) only at T = 1 (and for greedy requests, whose T is 1)
        t = self.sampling.temperature
        if self.backend == "openvino" and t > 0 and t != 1.0:
            raise ValueError(
                f"rollout.sampling.temperature={t} with rollout.backend=openvino: the openvino backend samples at temperature 1 only "
                "(or greedy, 0): openvino-genai returns each draw's log-softmax(logits) before the temperature, not the "
                "log-softmax(logits / T) the importance ratios compare; set rollout.sampling.temperature=1 or use another backend"
            )
        return self


class TrainerConfig(StrictModel):
    method: Method = Field("loop", description="training method: " + ", ".join(METHODS))
    iterations: int = Field(100, ge=1, description="training iterations (collect -> update)")
    tasks_per_iteration: int = Field(40, ge=1, description="tasks sampled per iteration (paper: 40)")
    rollouts_per_task: int = Field(6, ge=1, description="K, rollouts per task (paper: 6)")
    dynamic_sampling: bool = Field(
        False,
        description="draw more batches of tasks until tasks_per_iteration groups have rewards that differ, dropping the flat ones "
        "(DAPO's dynamic sampling; not the paper's, which does not oversample; looprl/training/dynamic_sampling.py)",
    )
    dynamic_sampling_max_batches: int = Field(3, ge=1, description="with dynamic_sampling: batches of tasks_per_iteration tasks drawn at most beyond the first")
    epochs: int = Field(2, ge=1, description="passes over each iteration's rollouts (paper: 2)")
    minibatch_size: int = Field(32, ge=1, description="trajectories per optimizer step (paper: 32)")
    micro_batch_size: int = Field(1, ge=1, description="trajectories per forward/backward (gradient accumulation)")
    lr: float = Field(5e-5, gt=0.0, lt=1.0, description="AdamW learning rate, constant (paper: 5e-5)")
    weight_decay: float = Field(0.01, ge=0.0, description="AdamW weight decay (paper: 0.01)")
    max_grad_norm: float = Field(1.0, gt=0.0, description="gradient-norm clip (paper: 1.0; reference code: 0.1)")
    clip_eps: float = Field(0.1, gt=0.0, lt=1.0, description="PPO clip epsilon (paper: 0.1)")
    adv_threshold: float = Field(0.01, ge=0.0, description="drop rollouts with |advantage| below this (paper: 0.01)")
    kl_guard: float = Field(20.0, gt=0.0, description="skip the rest of an iteration when the k1 KL estimate exceeds this")
    kl_coef: float = Field(
        0.04,
        ge=0.0,
        description="grpo-kl: weight of the k3 KL penalty to the adapter-disabled model (0.04, the common GRPO default; for no KL term use method grpo)",
    )
    behaviour_weight_cap: float = Field(
        2.0,
        ge=1.0,
        description="with rollout.max_staleness > 0: C, the truncation of each token's behaviour weight min(pi_prox/mu, C) "
        "in the decoupled PPO loss (looprl/algorithms/losses.py)",
    )
    logprob_chunk_size: int = Field(1024, ge=16, description="tokens per chunk when computing logprobs (keeps T x vocab logits small)")
    autocast: Literal["auto", "bfloat16", "off"] = Field(
        "auto",
        description="the trainer's forward passes (old/reference logprobs, training, PPO's critic) under bf16 autocast, fp32 master weights "
        "and fp32 log-softmax: 'auto' = bf16 where the CPU has avx512_bf16 or amx_bf16 or the CUDA device supports bf16, else off",
    )
    eval_every: int = Field(5, ge=0, description="dev evaluation every N iterations (0 = never)")
    eval_samples: int = Field(1, ge=1, description="rollouts per dev task in evaluation")
    eval_temperature: float = Field(0.0, ge=0.0, description="dev evaluation temperature (paper: 0, greedy)")
    sft_read_docs: bool = Field(
        False,
        description="SFT-GT: each chat lists an app's API names and reads each API's doc before first using it, "
        "replayed through the env for real observations (not in the paper, whose chats are answered "
        "'Execution successful.')",
    )
    checkpoints_kept: int = Field(2, ge=0, description="keep the newest N iteration checkpoints (0 = keep all); best/ is kept apart")
    # PPO with a learned critic (method "ppo"); the paper's baseline settings. Which methods read which
    # of these fields is a fact of the method registry (methods/facts.py), checked below.
    value_coef_start: float = Field(0.1, ge=0.0, description="PPO: value-loss coefficient at iteration 1 (paper: 0.1)")
    value_coef_end: float = Field(0.001, ge=0.0, description="PPO: value-loss coefficient after value_coef_iterations (paper: 0.001)")
    value_coef_iterations: int = Field(200, ge=1, description="PPO: iterations over which the value coefficient decays, log-linearly (paper: 200)")
    critic_warmup_iterations: int = Field(10, ge=0, description="PPO: first N iterations train only the critic, on base-model rollouts (paper: 10)")
    gae_gamma: float = Field(1.0, ge=0.0, le=1.0, description="PPO: GAE discount (paper: 1)")
    gae_lambda: float = Field(1.0, ge=0.0, le=1.0, description="PPO: GAE lambda (paper: 1; smaller diverged)")
    value_hidden_size: int = Field(1024, ge=1, description="PPO: width of the value head's 3-layer MLP")

    @field_validator("autocast", mode="before")
    @classmethod
    def _yaml_off(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare `off` as false: `trainer.autocast: off` means "off"
        return "off" if value is False else value

    @model_validator(mode="after")
    def _check_method_settings(self) -> "TrainerConfig":
        # A setting of another method would be silently ignored: name it (the registry says who reads what).
        readers = registry.method_settings()
        for name, field in type(self).model_fields.items():
            if name not in readers:
                continue
            (owners, off), value = readers[name], getattr(self, name)
            if self.method not in owners and value not in (field.default, off):
                raise ValueError(
                    f"trainer.{name}={value!r} only applies to method {' / '.join(repr(m) for m in owners)} "
                    f"(method is {self.method!r}, which does not read it); remove it"
                )
        for requirement in registry.METHODS[self.method].requires:
            if (error := requirement.error(self.method, self)) is not None:
                raise ValueError(error)
        return self


class LoggingConfig(StrictModel):
    tensorboard: bool = Field(True, description="write TensorBoard event files into the run directory")
    wandb: bool = Field(False, description="also log to Weights & Biases (needs `pip install wandb` and WANDB_API_KEY)")
    wandb_project: str = Field("looprl", description="W&B project name")


class TrainConfig(StrictModel):
    seed: int = Field(0, description="seed for task sampling, sampling and initialization")
    run_dir: str = Field("runs/train", description="where checkpoints, logs and rollouts are written")
    model: ModelConfig = Field(default_factory=ModelConfig, description="the policy model")
    lora: LoraConfig = Field(default_factory=LoraConfig, description="LoRA adapter")
    env: EnvConfig = Field(default_factory=EnvConfig, description="environment")
    tasks: TasksConfig = Field(default_factory=TasksConfig, description="which tasks to train and evaluate on")
    rollout: RolloutConfig = Field(default_factory=RolloutConfig, description="rollout collection")
    trainer: TrainerConfig = Field(default_factory=TrainerConfig, description="the update")
    logging: LoggingConfig = Field(default_factory=LoggingConfig, description="metrics logging")

    @model_validator(mode="after")
    def _check_task_selection(self) -> "TrainConfig":
        # The env says which task fields it takes and what values (its own TaskSelectionError). An env
        # not registered yet is named by the preflight checks; one without a lookup runs tasks.task_ids.
        from looprl.env.base import TaskSelectionError, find_task_lookup

        t = self.tasks
        if t.fresh_instances and t.task_ids:
            raise ValueError(
                "tasks.fresh_instances draws new instances of the training split's scenarios; it cannot be combined with an explicit tasks.task_ids list"
            )
        try:
            lookup = find_task_lookup(self.env.name)
        except ValueError:
            return self
        if lookup is not None:
            try:
                lookup.task_selection(self.env.options, t.selection_fields())
            except TaskSelectionError as exc:
                raise ValueError(exc.under("tasks.")) from None
        return self

    @model_validator(mode="after")
    def _check_staleness(self) -> "TrainConfig":
        # Overlapped sampling needs a loss that corrects for the behaviour policy (the decoupled PPO loss);
        # the cap is read only there, so a cap set for the synchronous loop would be silently ignored.
        s, m = self.rollout.max_staleness, self.trainer.method
        if s > 0 and m not in OFF_POLICY_METHODS:
            raise ValueError(
                f"rollout.max_staleness={s} with method {m!r}: only {', '.join(OFF_POLICY_METHODS)} have a loss that "
                "reweights rollouts a stale policy sampled; use rollout.max_staleness=0 (the synchronous loop)"
            )
        cap_default = TrainerConfig.model_fields["behaviour_weight_cap"].default
        if s == 0 and self.trainer.behaviour_weight_cap != cap_default:
            raise ValueError(
                f"trainer.behaviour_weight_cap={self.trainer.behaviour_weight_cap} only applies with rollout.max_staleness > 0 "
                "(the synchronous loop is on-policy and has no behaviour weight); remove it or set rollout.max_staleness"
            )
        return self

    @model_validator(mode="after")
    def _check_dynamic_sampling(self) -> "TrainConfig":
        # Flat groups carry no signal only for a group-relative advantage; fixed data is not re-sampled.
        t, m = self.trainer, self.trainer.method
        if not t.dynamic_sampling:
            if t.dynamic_sampling_max_batches != TrainerConfig.model_fields["dynamic_sampling_max_batches"].default:
                raise ValueError(
                    f"trainer.dynamic_sampling_max_batches={t.dynamic_sampling_max_batches} only applies with trainer.dynamic_sampling=true; "
                    "remove it or set trainer.dynamic_sampling=true"
                )
            return self
        facts = registry.METHODS[m]
        if not facts.group_relative:
            why = "trains on fixed data, gathered once" if facts.data.fixed else "does not take its advantage relative to the task's group"
            allowed = ", ".join(name for name, f in registry.METHODS.items() if f.group_relative)
            raise ValueError(
                f"trainer.dynamic_sampling=true with method {m!r}: it {why}, so a group of equal rewards is not wasted; "
                f"dynamic sampling applies to {allowed}; remove trainer.dynamic_sampling"
            )
        return self

    @model_validator(mode="after")
    def _check_training_sampling(self) -> "TrainConfig":
        # A method that learns from its own samples compares the probabilities they were drawn with: the
        # trainer computes softmax(logits / T), which top-p/top-k truncation or greedy decoding would break.
        if registry.METHODS[self.trainer.method].data.fixed:
            return self
        s, m = self.rollout.sampling, self.trainer.method
        if s.temperature <= 0:
            raise ValueError(
                f"rollout.sampling.temperature={s.temperature}: method {m!r} trains on its own samples and needs "
                "a temperature > 0 (1.0 is the paper's; greedy rollouts have no probabilities to train)"
            )
        if s.top_p != 1.0 or s.top_k != 0:
            raise ValueError(
                f"rollout.sampling.top_p={s.top_p}, top_k={s.top_k}: method {m!r} trains on its own samples and "
                "needs top_p=1.0 and top_k=0 (the trainer's probabilities are the untruncated softmax(logits / T))"
            )
        return self


class EvalConfig(StrictModel):
    seed: int = Field(0, description="seed for sampling")
    model: ModelConfig = Field(default_factory=ModelConfig, description="the model under evaluation")
    env: EnvConfig = Field(default_factory=EnvConfig, description="environment")
    split: str = Field("dev", description="task split to evaluate on (the split the rollouts are labelled with when task_ids are given)")
    task_ids: list[str] | None = Field(None, description="evaluate exactly these task ids instead of the split's (an env without a task lookup needs them)")
    tasks: TaskSelection = Field(
        default_factory=TaskSelection, description="which of the split's tasks, as training selects them (built-in world: instances, instance_start, scenarios)"
    )
    samples: int = Field(1, ge=1, description="rollouts per task")
    max_tasks: int | None = Field(None, ge=1, description="evaluate at most this many tasks of the split")
    rollout: RolloutConfig = Field(
        default_factory=lambda: RolloutConfig(sampling=SamplingConfig(temperature=0.0)),
        description="rollout collection (greedy by default)",
    )


DEMO_SCENARIOS = (
    "email_count_from_sender",
    "payments_count_requests",
    "phone_count_relationship",
    "phone_create_alarm",
    "shopping_cheapest_rated",
    "shopping_wishlist_under",
)  # short difficulty-1 ground truths (<= 7 turns)


def _demo_train_defaults() -> "TrainConfig":
    """LOOP scaled down to a 2-core CPU and SmolLM2-135M: the terse prompt (no worked example; the
    SFT-GT warm-up teaches the format), episodes of at most 8 turns of at most 96 new tokens, six
    training scenarios whose difficulty-1 ground truths take at most 7 statements (one per turn; the
    longest statement is 79 tokens), fresh instances every pass, K = 4, rollouts at temperature 0.7
    (the trained policy is softmax(logits / 0.7)), the adapter merged into the vLLM server's weights
    after each update. Sized so the whole demo, setup included, takes about half an hour on 2 cores
    (18-30 min from a fresh clone, depending on the machine, docs/results.md)."""
    return TrainConfig(
        run_dir="runs/demo/loop",
        model=ModelConfig(name_or_path="smollm2"),
        # a difficulty-1 cell runs in milliseconds: a 5 s wall clock (not 30) keeps a runaway loop from stalling the batch
        env=EnvConfig(max_turns=8, eval_max_turns=8, max_observation_tokens=300, options={"sandbox": {"cell_timeout_s": 5}}),
        tasks=TasksConfig(difficulties=[1], instances=2, fresh_instances=True, scenarios=list(DEMO_SCENARIOS)),
        rollout=RolloutConfig(
            concurrency=64,
            generation_batch_size=64,
            early_stop=False,
            scaffold="terse",
            adapter_sync="merged",
            sampling=SamplingConfig(temperature=0.7, max_new_tokens=96, max_context_tokens=3072),
        ),
        trainer=TrainerConfig(
            method="loop",
            iterations=2,
            tasks_per_iteration=4,
            rollouts_per_task=4,
            minibatch_size=8,
            micro_batch_size=1,
            lr=5e-5,
            logprob_chunk_size=2048,
            eval_every=0,
        ),
    )


class DemoConfig(StrictModel):
    run_dir: str = Field("runs/demo", description="where the demo's runs, report and state are written (re-running resumes)")
    heldout_tasks: int = Field(
        24,
        ge=1,
        description="held-out instances of the training scenarios evaluated before and after "
        "(new instances of known kinds of work, never trained on), spread over the scenarios",
    )
    dev_tasks: int = Field(6, ge=0, description="dev tasks evaluated before and after training (new kinds of work; 0 = none)")
    dev_difficulties: list[int] = Field(default_factory=lambda: [1], description="difficulties of the dev tasks evaluated")
    eval_samples: int = Field(1, ge=1, description="rollouts per task in the before/after evaluations")
    sft_epochs: int = Field(1, ge=0, description="SFT-GT warm-up: passes over the ground-truth chats of every training task, before LOOP (0 = none)")
    sft_instances: int = Field(
        20,
        ge=1,
        description="SFT-GT warm-up: instances per training scenario it trains on (1..N; "
        "LOOP then draws instances after these, train.tasks.instances at a time)",
    )
    sft_difficulties: list[int] = Field(
        default_factory=lambda: [1],
        description="difficulties of the training tasks whose ground truth the warm-up trains on (LOOP keeps to train.tasks.difficulties)",
    )
    sft_lr: float = Field(1e-3, gt=0.0, lt=1.0, description="learning rate of the SFT-GT warm-up")
    sft_minibatch_size: int = Field(4, ge=1, description="chats per optimizer step in the SFT-GT warm-up")
    sft_chats_per_iteration: int = Field(
        24,
        ge=1,
        description="SFT-GT warm-up: chats per training iteration (a progress step and "
        "a checkpoint each; the passes are split into iterations of this many chats)",
    )
    eval_warmup: bool = Field(
        True,
        description="also evaluate the warmed-up model (after SFT-GT, before LOOP) on the same tasks, "
        "so the tables tell the warm-up's change from LOOP's (two more evaluations)",
    )
    sft_read_docs: bool = Field(
        False,
        description="SFT-GT warm-up chats look the APIs up before using them (trainer.sft_read_docs; "
        "doubles the warm-up's tokens; episodes need ~3 more turns)",
    )
    sampler: Literal["auto", "vllm", "transformers"] = Field(
        "auto",
        description="what samples every rollout: vllm (a local vLLM server, LoRA hot-swapped; needs `looprl models setup-vllm`), "
        "transformers (the trainer's own model), auto (vllm when its environment exists)",
    )
    train: TrainConfig = Field(default_factory=_demo_train_defaults, description="the LOOP run (its model, tasks, rollouts, trainer)")
