"""OpenVINOBackend against transformers, on the tiny model exported to OpenVINO IR at fp32.

The tiny model is built with a wide initialisation (initializer_range 0.2), so that its next-token
distributions are far from uniform and a wrong adapter scale or a stale cache moves the logprobs by
far more than the tolerance. Measured here (fp32 IR, f32 inference and KV cache; greedy and T = 1,
32 tokens from 5 prompts, 200 tokens the longest): logprobs agree with transformers' to 1.0e-5
without the adapter and 1.4e-5 with it (TOL is 1e-4).

The tests that run the pipeline need openvino-genai in this environment (`pip install
'looprl[openvino]'`) and make the export environment on first use (looprl/backends/openvino.py).
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from looprl.backends.base import SamplingParams
from looprl.backends.lora import plain_lora_scale
from looprl.backends.openvino import export_openvino
from looprl.testing.samplers import random_lora_adapter, reference_logprobs

needs_openvino = pytest.mark.skipif(
    importlib.util.find_spec("openvino_genai") is None, reason="openvino-genai is not installed in this environment (pip install 'looprl[openvino]')"
)

TOL = 1e-4
PROMPTS = [[5, 17, 40, 9, 100, 200, 300], [1, 60, 61, 62], [300, 7]]
# longer than a block of the prefix cache: these the cache holds (a switched adapter on one pipeline
# would continue them with the old weights' keys and values, as seen with openvino-genai 2026.4.1)
LONG_PROMPTS = [list(range(5, 205)), [9, 8] * 70]


# ---------------------------------------------------------------------------------------------------
# without openvino
# ---------------------------------------------------------------------------------------------------
def test_the_config_refuses_a_temperature_other_than_1_with_the_openvino_backend():
    from looprl.config.models import RolloutConfig, SamplingConfig

    with pytest.raises(ValueError, match=r"rollout\.sampling\.temperature=0\.7 .*temperature 1 only"):
        RolloutConfig(backend="openvino", sampling=SamplingConfig(temperature=0.7))
    for t in (1.0, 0.0):  # T = 1, and greedy (evaluation)
        assert RolloutConfig(backend="openvino", sampling=SamplingConfig(temperature=t)).openvino_weight_format == "int8"
    assert RolloutConfig(backend="llamacpp", sampling=SamplingConfig(temperature=0.7)).backend == "llamacpp"


def test_the_adapter_scale_is_peft_s_and_what_openvino_cannot_apply_is_refused():
    assert plain_lora_scale({"r": 4, "lora_alpha": 8}, "the openvino backend") == 2.0
    assert plain_lora_scale({"r": 16, "lora_alpha": 8, "use_rslora": True}, "the openvino backend") == 2.0  # alpha / sqrt(r)
    for extra in ({"use_dora": True}, {"rank_pattern": {"q_proj": 8}}, {"modules_to_save": ["lm_head"]}, {"bias": "all"}):
        with pytest.raises(ValueError, match=next(iter(extra))):
            plain_lora_scale({"r": 4, "lora_alpha": 8, **extra}, "the openvino backend")


def test_an_unknown_weight_format_is_refused_before_anything_is_installed(tmp_path):
    with pytest.raises(ValueError, match="weight_format"):
        export_openvino(tmp_path, "q4", venv=tmp_path / "never-made")
    assert not (tmp_path / "never-made").exists()


def test_a_missing_openvino_genai_names_the_extra(monkeypatch, tmp_path):
    import sys

    from looprl.backends.openvino import OpenVINOBackend

    monkeypatch.setitem(sys.modules, "openvino_genai", None)
    with pytest.raises(ImportError, match=r"looprl\[openvino\]"):
        OpenVINOBackend(str(tmp_path))


# ---------------------------------------------------------------------------------------------------
# the pipeline
# ---------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen2_dir(tmp_path_factory):
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), initializer_range=0.2)


@pytest.fixture(scope="module")
def ir_dir(qwen2_dir):
    """The fp32 export, once per module (the backends below find it cached); removed afterwards, since
    the export cache is keyed by the model's folder and this one is gone after the session."""
    import shutil

    out = export_openvino(qwen2_dir, "fp32")
    yield out
    shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def adapter(qwen2_dir, tmp_path_factory):
    """A saved LoRA adapter and the transformers model holding it (the reference)."""
    path = tmp_path_factory.mktemp("adapter") / "adapter"
    return path, random_lora_adapter(qwen2_dir, path)


def _backend(model_dir, **kwargs):
    from looprl.backends.openvino import OpenVINOBackend

    return OpenVINOBackend(str(model_dir), weight_format="fp32", n_threads=1, concurrency=4, cache_gib=1, **kwargs)


def _hf(model_dir):
    from looprl.backends.hf import HFBackend

    return HFBackend(str(model_dir), lora=None, device="cpu")


@needs_openvino
def test_fp32_samples_what_transformers_computes_at_temperature_1(qwen2_dir, ir_dir):
    from looprl.backends.base import PolicyBackend

    hf = _hf(qwen2_dir)
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(qwen2_dir) as backend:
        assert isinstance(backend, PolicyBackend) and not backend.concurrent_requests and backend.generator is None
        assert backend.model_dir == ir_dir
        ours, theirs = backend.generate(PROMPTS, greedy), hf.generate(PROMPTS, greedy)
        for a, b in zip(ours, theirs):
            assert a.token_ids == b.token_ids and a.finish_reason == b.finish_reason
            assert a.logprobs == pytest.approx(b.logprobs, abs=TOL)
        for prompt, g in zip(PROMPTS, backend.generate(PROMPTS, SamplingParams(temperature=1.0, max_new_tokens=24, seed=3))):
            assert len(g.token_ids) == len(g.logprobs) > 0
            assert g.logprobs == pytest.approx(reference_logprobs(hf, prompt, g.token_ids, 1.0), abs=TOL)
        (truncated,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, top_p=0.8, max_new_tokens=12, seed=1))
        assert truncated.logprobs == pytest.approx(reference_logprobs(hf, PROMPTS[0], truncated.token_ids, 1.0), abs=TOL)  # before truncation
        with pytest.raises(ValueError, match="temperature 1 only"):
            backend.generate(PROMPTS[:1], SamplingParams(temperature=0.7))


@needs_openvino
def test_seeded_requests_repeat_unseeded_ones_differ_and_a_sequence_ends_at_the_requested_stop(qwen2_dir, ir_dir):
    with _backend(qwen2_dir) as backend:
        seeded = SamplingParams(temperature=1.0, max_new_tokens=16, seed=7)
        assert [g.token_ids for g in backend.generate(PROMPTS, seeded)] == [g.token_ids for g in backend.generate(PROMPTS, seeded)]
        draws = backend.generate([PROMPTS[0]] * 4, SamplingParams(temperature=1.0, max_new_tokens=16))
        assert len({tuple(g.token_ids) for g in draws}) > 1
        # no stop the model knows: it runs past its eos (continued from there) to the token budget
        (free,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, max_new_tokens=20, seed=5, stop_token_ids=(10**6,)))
        assert len(free.token_ids) == 20 and free.finish_reason == "length"
        stop = free.token_ids[3]
        (cut,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, max_new_tokens=20, seed=5, stop_token_ids=(stop,)))
    end = free.token_ids.index(stop) + 1
    assert cut.token_ids == free.token_ids[:end] and cut.finish_reason == "stop"
    assert cut.logprobs == pytest.approx(free.logprobs[:end], abs=TOL)


@needs_openvino
def test_load_adapter_samples_what_transformers_does_with_it_and_sampling_base_model_restores(qwen2_dir, ir_dir, adapter):
    """`before` fills the prefix cache with the base weights' keys and values of the long prompts: the
    adapter's pipeline must not reuse them (its greedy tokens and logprobs are transformers' with the adapter)."""
    adapter_dir, hf = adapter
    prompts = PROMPTS + LONG_PROMPTS
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(qwen2_dir) as backend:
        before = backend.generate(prompts, greedy)
        assert backend.load_adapter(adapter_dir) == adapter_dir.resolve() and backend.publish_s > 0
        after = backend.generate(prompts, greedy)
        with backend.sampling_base_model():
            inside = backend.generate(prompts, greedy)
        restored = backend.generate(prompts, greedy)
        sampled = backend.generate(prompts, SamplingParams(temperature=1.0, max_new_tokens=16, seed=2))
    theirs = hf.generate(prompts, greedy)
    with hf.sampling_base_model():
        base = hf.generate(prompts, greedy)
    for a, t in zip(after, theirs):
        assert a.token_ids == t.token_ids and a.logprobs == pytest.approx(t.logprobs, abs=TOL)
    for b, h in zip(before, base):
        assert b.token_ids == h.token_ids and b.logprobs == pytest.approx(h.logprobs, abs=TOL)
    assert any(a.logprobs != pytest.approx(b.logprobs, abs=1e-2) for a, b in zip(after, before))  # the adapter matters
    for b, i in zip(before, inside):
        assert i.token_ids == b.token_ids and i.logprobs == pytest.approx(b.logprobs, abs=TOL)
    for a, r in zip(after, restored):
        assert r.token_ids == a.token_ids and r.logprobs == pytest.approx(a.logprobs, abs=TOL)
    for prompt, g in zip(prompts, sampled):
        assert g.logprobs == pytest.approx(reference_logprobs(hf, prompt, g.token_ids, 1.0), abs=TOL)


@needs_openvino
def test_a_backend_built_with_an_adapter_samples_with_it(qwen2_dir, ir_dir, adapter):
    adapter_dir, hf = adapter
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(qwen2_dir, adapter_path=adapter_dir) as backend:
        ours = backend.generate(PROMPTS, greedy)
    for a, t in zip(ours, hf.generate(PROMPTS, greedy)):
        assert a.token_ids == t.token_ids and a.logprobs == pytest.approx(t.logprobs, abs=TOL)


@needs_openvino
def test_rollout_backend_openvino_builds_the_sampler(qwen2_dir, ir_dir, tmp_path):
    from pathlib import Path

    from looprl.backends.openvino import OpenVINOBackend
    from looprl.build import build_sampling_backend
    from looprl.config import TrainConfig, load_config

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    overrides = [f"model.name_or_path={qwen2_dir}", f"run_dir={tmp_path}", "rollout.backend=openvino", "rollout.openvino_weight_format=fp32"]
    cfg = load_config(TrainConfig, recipe, [*overrides, "rollout.concurrency=2", "rollout.sampling.temperature=1.0"])
    backend = build_sampling_backend(cfg)
    try:
        assert isinstance(backend, OpenVINOBackend) and backend.weight_format == "fp32" and backend.concurrency == 2 and backend.model_dir == ir_dir
    finally:
        backend.close()


@needs_openvino
def test_a_signal_after_a_pipeline_was_replaced_is_handled(qwen2_dir, ir_dir):
    """openvino-genai sets an alternate signal stack on the thread that builds or frees a pipeline and
    frees its memory later: a signal handled afterwards (Ctrl-C, the trainer's SIGTERM handling) crashed
    the process with SIGSEGV. The backend keeps the thread's signal stack; in a child process, so that
    a crash fails this test instead of the suite."""
    import subprocess
    import sys

    code = (
        "import os, signal, time\n"
        "from looprl.backends.base import SamplingParams\n"
        "from looprl.backends.openvino import OpenVINOBackend\n"
        f"b = OpenVINOBackend({str(qwen2_dir)!r}, weight_format='fp32')\n"
        "b.generate([[5, 6, 7]], SamplingParams(temperature=0.0, max_new_tokens=4))\n"
        "with b.sampling_base_model():\n"  # a pipeline replaced twice
        "    b.generate([[5, 6, 7]], SamplingParams(temperature=0.0, max_new_tokens=4))\n"
        "b.close(); del b\n"
        "got = []\n"
        "signal.signal(signal.SIGINT, lambda *a: got.append(1))\n"
        "os.kill(os.getpid(), signal.SIGINT); time.sleep(0.2)\n"
        "print('handled', got)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "handled [1]" in done.stdout, (done.returncode, done.stderr[-2000:])


@needs_openvino
def test_overlapped_training_samples_from_a_child_process_that_answers_as_the_pipeline_here(qwen2_dir, ir_dir, adapter, tmp_path):
    """rollout.max_staleness >= 1: the pipeline's step() holds the GIL, so build.py puts it in a child
    process (rollout.sampler_process 'auto'), pinned to the sampler's cores; the same tokens and logprobs."""
    from pathlib import Path

    from looprl.backends.process import ProcessBackend
    from looprl.build import build_sampling_backend
    from looprl.config import TrainConfig, load_config
    from looprl.training.pipeline import sampler_cores

    adapter_dir, _ = adapter
    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    base = [f"model.name_or_path={qwen2_dir}", f"run_dir={tmp_path}", "rollout.backend=openvino", "rollout.openvino_weight_format=fp32"]
    base += ["rollout.concurrency=4", "rollout.sampling.temperature=1.0"]
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    backend = build_sampling_backend(load_config(TrainConfig, recipe, [*base, "rollout.max_staleness=1"]))
    try:
        assert isinstance(backend, ProcessBackend) and backend.weight_format == "fp32" and backend.model_dir == ir_dir
        assert os.sched_getaffinity(backend._proc.pid) == set(sampler_cores())
        backend.load_adapter(adapter_dir)
        assert backend.adapter_path == adapter_dir.resolve() and backend.publish_s > 0
        theirs = backend.generate(PROMPTS, greedy)
    finally:
        backend.close()
    with _backend(qwen2_dir, adapter_path=adapter_dir) as here:
        ours = here.generate(PROMPTS, greedy)
    for a, t in zip(ours, theirs):
        assert a.token_ids == t.token_ids and a.logprobs == pytest.approx(t.logprobs, abs=TOL)
    off = build_sampling_backend(load_config(TrainConfig, recipe, [*base, "rollout.max_staleness=1", "rollout.sampler_process=false"]))
    try:
        assert not isinstance(off, ProcessBackend)
    finally:
        off.close()
