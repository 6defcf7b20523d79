"""The trainer sharded with FSDP over 2 CPU processes (gloo), launched by `accelerate launch`.

* One update of a fixed batch (11 trajectories: odd, with a 1-row minibatch that leaves rank 1 only
  padding) gives the same LoRA weights under 2-rank FSDP as in one process, for LOOP, GRPO-KL and
  PPO (critic included); a NaN loss on one rank stops both.
* `looprl train` under the launcher runs 2 iterations on the toy env, rank 0 alone writes the run,
  `--resume` continues under the launcher, and a one-process trainer resumes the same checkpoint.
* The accelerate config files parse (accelerate's own loader) with the settings looprl reads.
* Fast, in-process: how minibatches split across ranks, and the settings that are refused.

This file is also the worker of the first test: `accelerate launch ... test_distributed.py OUT_DIR`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
ACCELERATE_CONFIGS = ROOT / "configs" / "accelerate"
CPU_CONFIG = ACCELERATE_CONFIGS / "fsdp-2cpu.yaml"
LORA = {"r": 4, "alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "lm_head"]}
UPDATE = {"minibatch_size": 5, "micro_batch_size": 2, "epochs": 2, "lr": 1e-2, "logprob_chunk_size": 16}
# minibatches of 5, 5, 1 per epoch. A 5 is cut [2, 2, 1] in one process but [2, 1] + [2] on two
# ranks (rank 1 pads one call): other micro-batches, the same gradient. The 1 leaves rank 1 only padding.
N_TRAJECTORIES = 11
# name: (method, iteration). loop: the paper's method; grpo-kl: reference logprobs (adapter
# disabled), one step over all 11; ppo: a critic replicated beside the sharded model, past its
# 1-iteration warm-up; ppo-warmup: only the critic learns (no gradient reaches the sharded model)
CHECKS = {"loop": ("loop", 2), "grpo-kl": ("grpo-kl", 2), "ppo": ("ppo", 2), "ppo-warmup": ("ppo", 1)}
METHOD_SETTINGS = {"ppo": {"value_hidden_size": 16, "critic_warmup_iterations": 1}}


def _launch(args: list[str], tmp_path: Path, timeout: int = 400, config: Path = CPU_CONFIG) -> subprocess.CompletedProcess:
    """`accelerate launch` with 2 processes (the CPU config unless told); fails the test with both ranks' output."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MASTER_PORT": str(29500 + os.getpid() % 1000), "PYTHONUNBUFFERED": "1", "COLUMNS": "1000"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(config),
        "--num_processes",
        "2",
        "--main_process_port",
        env["MASTER_PORT"],
        *args,
    ]
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    return proc


# ---------------------------------------------------------------------------------------------- (1)
def _policy(model_dir: str):
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    torch.manual_seed(0)  # LoRA A's initialization: the same in every process
    policy = HFBackend(model_dir, lora=LoraConfig(**LORA), device="cpu", gradient_checkpointing=True, seed=0)
    # float64 weights: the two runs differ only in summation order (gradients across ranks, the
    # sharded grad norm); Adam magnifies float32 rounding there on near-zero gradients, not float64's
    policy.model.double()
    return policy


def _update(policy, dist, method_name: str = "loop", nan_row: int | None = None, iteration: int = 2) -> tuple[dict, dict]:
    """One iteration's update of the fixed batch: old (and reference) logprobs, epochs x minibatches,
    AdamW steps. `nan_row` gets a NaN advantage (its loss is NaN). Returns (metrics, PPO critic state)."""
    from conftest import synthetic_trajectories

    from looprl.config import TrainConfig, TrainerConfig
    from looprl.training.batch import make_batch
    from looprl.training.methods import get_method
    from looprl.training.update import run_update

    method = get_method(method_name)
    cfg = TrainConfig(trainer=TrainerConfig(method=method_name, **UPDATE, **METHOD_SETTINGS.get(method_name, {})))
    trajs = synthetic_trajectories(N_TRAJECTORIES, seed=3, groups=2)
    adv = method.advantages(torch.tensor([t.reward for t in trajs]), [t.group_id for t in trajs])
    if nan_row is not None:
        adv[nan_row] = float("nan")
    batch = make_batch(trajs, adv, policy.pad_token_id)
    torch.manual_seed(1)  # the critic's initialization, the same in every process
    critic = method.critic(policy, cfg) if method.critic is not None else None
    params = policy.trainable_parameters() + (critic.parameters() if critic else [])
    optimizer = torch.optim.AdamW(params, lr=UPDATE["lr"], weight_decay=0.01)
    metrics = run_update(policy, optimizer, method, batch, cfg.trainer, torch.Generator().manual_seed(0), critic, iteration=iteration, dist=dist)
    return metrics, (critic.state_dict()["head"] if critic else {})


def _worker(out_dir: str, model_dir: str) -> None:
    from looprl.training.distributed import from_environment
    from looprl.training.methods import get_method

    torch.set_num_threads(1)
    dist = from_environment()
    assert dist.sharded and dist.world_size == 2, "run me under `accelerate launch` with 2 processes"
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    for name, (method, iteration) in CHECKS.items():
        policy, _ = dist.shard(_policy(model_dir), None, get_method(method))
        metrics, critic = _update(policy, dist, method, iteration=iteration)
        policy.save_adapter(Path(out_dir) / name)  # gathered; rank 0 writes
        if dist.is_main:
            (Path(out_dir) / name / "metrics.json").write_text(json.dumps(metrics))
            torch.save(critic, Path(out_dir) / name / "critic.pt")
    # a NaN loss on rank 1 only (the last row of the first minibatch is rank 1's): both ranks stop, none steps
    first_minibatch = torch.randperm(N_TRAJECTORIES, generator=torch.Generator().manual_seed(0))[: UPDATE["minibatch_size"]]
    before = [p.full_tensor().clone() for p in policy.trainable_parameters()]
    nan_metrics, _ = _update(policy, dist, "loop", nan_row=int(first_minibatch[-1]))
    unchanged = all(torch.equal(a, p.full_tensor()) for a, p in zip(before, policy.trainable_parameters()))
    (Path(out_dir) / f"nan_rank{dist.rank}.json").write_text(json.dumps({**nan_metrics, "unchanged": unchanged}))
    dist.shutdown()


@pytest.mark.slow
def test_fsdp_update_equals_single_process_update(tiny_model_dir, tmp_path):
    from peft.utils import load_peft_weights

    from looprl.training.distributed import SINGLE_PROCESS

    torch.set_num_threads(1)
    _launch([str(Path(__file__)), str(tmp_path / "fsdp"), str(tiny_model_dir)], tmp_path)
    # the LoRA A matrices before any update, by their names in the adapter file
    start_a = {n.replace(".default", ""): p.detach() for n, p in _policy(str(tiny_model_dir)).model.named_parameters() if "lora_A" in n}
    for name, (method, iteration) in CHECKS.items():
        policy = _policy(str(tiny_model_dir))
        want_metrics, want_critic = _update(policy, SINGLE_PROCESS, method, iteration=iteration)
        policy.save_adapter(tmp_path / "single" / name)
        assert want_metrics["train/optimizer_steps"] == (1 if name == "grpo-kl" else 6), name
        assert want_metrics["train/stopped_early"] == 0, name
        got_metrics = json.loads((tmp_path / "fsdp" / name / "metrics.json").read_text())
        want, got = load_peft_weights(str(tmp_path / "single" / name)), load_peft_weights(str(tmp_path / "fsdp" / name))
        assert sorted(got) == sorted(want), name  # the same peft file layout
        moved = [k for k, a in start_a.items() if not torch.equal(want[k], a)]
        assert len(start_a) == 15 and (not moved or len(moved) == len(start_a)), (name, moved)
        assert bool(moved) == (name != "ppo-warmup"), name  # every A moved, not just B (none in the critic's warm-up)
        for key in want:
            torch.testing.assert_close(got[key], want[key], rtol=1e-9, atol=1e-10, msg=lambda m, name=name, key=key: f"{name} {key}: {m}")
        got_critic = torch.load(tmp_path / "fsdp" / name / "critic.pt")
        assert sorted(got_critic) == sorted(want_critic), name
        for key in want_critic:  # the critic computes in float32 whatever the model's dtype: float32 rounding, Adam-magnified
            torch.testing.assert_close(got_critic[key], want_critic[key], rtol=1e-4, atol=1e-5, msg=lambda m, name=name, key=key: f"{name} {key}: {m}")
        for key, value in want_metrics.items():
            if key.startswith("time/"):  # wall-clock phase timings, not results
                continue
            assert got_metrics[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (name, key)
    for rank in (0, 1):  # the guard's decision was agreed: no rank stepped alone
        nan = json.loads((tmp_path / "fsdp" / f"nan_rank{rank}.json").read_text())
        assert (nan["train/stopped_early"], nan["train/optimizer_steps"], nan["unchanged"]) == (2.0, 0.0, True), rank


# ---------------------------------------------------------------------------------------------- (2)
@pytest.mark.slow
def test_looprl_train_under_the_launcher_runs_and_resumes(tiny_model_dir, tmp_path):
    from peft.utils import load_peft_weights

    from looprl.config import TrainConfig, load_config
    from looprl.training.checkpoint import load_latest
    from looprl.training.trainer import Trainer

    run = tmp_path / "run"
    # bf16 weights with peft's float32 LoRA in the same FSDP units, as in the 32B recipe
    sets = [
        f"model.name_or_path={tiny_model_dir}",
        "model.dtype=bfloat16",
        f"run_dir={run}",
        "trainer.iterations=2",
        "trainer.tasks_per_iteration=3",
        "trainer.rollouts_per_task=3",
        "trainer.minibatch_size=3",
        "trainer.micro_batch_size=2",
        "trainer.eval_every=2",
        "tasks.max_dev_tasks=2",
        "logging.tensorboard=false",
        "rollout.concurrency=1",
    ]
    args = ["-m", "looprl", "train", "--config", str(ROOT / "configs" / "tiny-cpu.yaml"), "--no-progress"]
    proc = _launch(args + [a for s in sets for a in ("--set", s)], tmp_path)
    assert proc.stderr.count("done: 2 iterations") == 1, proc.stderr[-3000:]  # rank 0 alone reports

    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2]
    assert rows[-1]["train/optimizer_steps"] > 0 and "eval/tgc" in rows[-1]
    assert sorted(p.name for p in (run / "rollouts").iterdir()) == ["iter_000001.jsonl", "iter_000002.jsonl"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_000001", "iter_000002", "latest"]
    assert (run / "best" / "adapter_config.json").is_file() and (run / "adapter_latest" / "adapter_config.json").is_file()
    path, state = load_latest(run)
    assert path.name == "iter_000002" and state.iteration == 2
    # the optimizer state is gathered into the one-process format: index-keyed, full-size tensors
    cfg = load_config(TrainConfig, run / "config.yaml", ["trainer.iterations=3"])
    single = Trainer(cfg, resume=True, progress=False)  # a one-process trainer resumes the 2-process checkpoint
    params = single.policy.trainable_parameters()
    assert len(state.optimizer["state"]) == len(params)
    for i, p in enumerate(params):
        assert state.optimizer["state"][i]["exp_avg"].shape == p.shape
    assert single.iteration == 2

    # the 8-GPU config with --num_processes 2 runs on CPUs as well
    proc = _launch(
        ["-m", "looprl", "train", "--resume", str(run), "--set", "trainer.iterations=3", "--no-progress"],
        tmp_path,
        config=ACCELERATE_CONFIGS / "fsdp-8gpu.yaml",
    )
    assert proc.stderr.count("done: 3 iterations") == 1, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in rows] == [1, 2, 3]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["iter_000002", "iter_000003", "latest"]

    # resumed == never interrupted (collection is deterministic at rollout.concurrency 1)
    straight = tmp_path / "straight"
    sets = [s.replace(str(run), str(straight)).replace("trainer.iterations=2", "trainer.iterations=3") for s in sets]
    _launch(args + [a for s in sets for a in ("--set", s)], tmp_path)
    want = load_peft_weights(str(straight / "checkpoints" / "iter_000003" / "adapter"))
    got = load_peft_weights(str(run / "checkpoints" / "iter_000003" / "adapter"))
    assert sorted(got) == sorted(want) and all(torch.equal(got[k], want[k]) for k in want)


# ---------------------------------------------------------------------------------------------- (3)
LAUNCH_CONFIGS = [("fsdp-8gpu.yaml", 8, False), ("fsdp-2cpu.yaml", 2, True)]


def test_every_accelerate_config_is_checked():
    assert sorted(p.name for p in ACCELERATE_CONFIGS.glob("*.yaml")) == sorted(name for name, _, _ in LAUNCH_CONFIGS)


@pytest.mark.parametrize("name,processes,cpu", LAUNCH_CONFIGS)
def test_accelerate_configs_parse_with_the_settings_looprl_reads(name, processes, cpu, tiny_model_dir):
    import yaml
    from accelerate.commands.config.config_args import load_config_from_file
    from transformers import AutoConfig, AutoModelForCausalLM

    path = ACCELERATE_CONFIGS / name
    cluster = load_config_from_file(str(path))  # accelerate's own parser rejects unknown fields
    assert str(cluster.distributed_type) in ("FSDP", "DistributedType.FSDP")
    assert (cluster.num_processes, cluster.use_cpu, cluster.num_machines) == (processes, cpu, 1)
    fsdp = yaml.safe_load(path.read_text())["fsdp_config"]
    assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_reshard_after_forward"] is True
    assert fsdp["fsdp_offload_params"] is False and fsdp["fsdp_activation_checkpointing"] is False  # refused otherwise
    # the block class named is the one Qwen2 models (the tiny model and Qwen2.5-32B) are built of
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(tiny_model_dir))
    assert {type(m).__name__ for m in model.modules()} >= {fsdp["fsdp_transformer_layer_cls_to_wrap"]}


def test_the_32b_recipe_names_its_launch_command():
    header = (ROOT / "configs" / "qwen2.5-32b-8gpu.yaml").read_text().split("\nseed:")[0]
    assert "accelerate launch --config_file configs/accelerate/fsdp-8gpu.yaml -m looprl train" in header
    assert "NOT YET BUILT" not in header


# ---------------------------------------------------------------------------------------------- fast, in-process
def _ranks(world_size: int):
    from looprl.training.distributed import FSDPDistributed

    out = []
    for rank in range(world_size):
        d = object.__new__(FSDPDistributed)  # the splitting needs no process group
        d.world_size, d.rank = world_size, rank
        out.append(d)
    return out


@pytest.mark.parametrize("world_size", [2, 3, 4])
def test_every_row_once_shares_sum_to_one_and_ranks_run_equal_calls(world_size):
    for n in range(1, 12):
        for size in (1, 2, 3):
            plans = [d.micro_batches(n, size) for d in _ranks(world_size)]
            assert len({len(p) for p in plans}) == 1, (n, size)  # the same number of forward/backward calls
            real = [int(i) for p in plans for idx, share in p if share > 0 for i in idx]
            assert sorted(real) == list(range(n)), (n, size)
            assert sum(share for p in plans for _, share in p) == pytest.approx(1.0)
            for p in plans:
                assert all(len(idx) <= size for idx, _ in p) and all(share == len(idx) / n for idx, share in p if share > 0)


def test_single_process_splits_as_plain_micro_batches(monkeypatch):
    from looprl.training.distributed import SINGLE_PROCESS, from_environment

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert from_environment() is SINGLE_PROCESS
    monkeypatch.setenv("WORLD_SIZE", "1")  # `accelerate launch --num_processes 1`
    assert from_environment() is SINGLE_PROCESS
    plan = SINGLE_PROCESS.micro_batches(5, 2)
    assert [idx.tolist() for idx, _ in plan] == [[0, 1], [2, 3], [4]] and [s for _, s in plan] == [0.4, 0.4, 0.2]
    assert SINGLE_PROCESS.agree("kl_guard") == "kl_guard" and SINGLE_PROCESS.sum([1.0, 2]) == [1.0, 2]


@pytest.mark.parametrize(
    "var,value,match",
    [("FSDP_VERSION", "1", "FSDP2 only"), ("FSDP_OFFLOAD_PARAMS", "true", "offload"), ("FSDP_ACTIVATION_CHECKPOINTING", "true", "gradient_checkpointing")],
)
def test_unsupported_launcher_settings_are_refused_by_name(monkeypatch, var, value, match):
    from looprl.training.distributed import from_environment

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=match) as info:
        from_environment()
    assert var in str(info.value)


def test_only_a_transformers_policy_can_be_sharded():
    from looprl.training.methods import get_method

    with pytest.raises(TypeError, match="HFBackend.*got object"):
        _ranks(2)[0].shard(object(), None, get_method("loop"))


if __name__ == "__main__":  # the worker of test_fsdp_update_equals_single_process_update
    _worker(sys.argv[1], sys.argv[2])
