"""LlamaCppBackend and the GGUF export against transformers, on tiny models exported at f32.

Tiny models built with a wide initialisation (initializer_range 0.2), so that their next-token
distributions are far from uniform and a wrong layout (rotary permutation, a missing bias, the
adapter's scale) moves the logprobs by far more than the tolerance. Measured here: greedy and
sampled logprobs agree with transformers' to ~1e-5 (TOL is 1e-4), at T = 1 and at T = 0.7.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

pytest.importorskip("xllamacpp", reason="llama.cpp's server extension is not installed (pip install 'looprl[llamacpp]')")

from looprl.backends.base import PolicyBackend, SamplingParams  # noqa: E402
from looprl.backends.gguf_export import export_gguf  # noqa: E402
from looprl.backends.hf import HFBackend  # noqa: E402
from looprl.backends.llamacpp import LlamaCppBackend, default_tensor_type  # noqa: E402
from looprl.testing.samplers import random_lora_adapter, reference_logprobs  # noqa: E402

TOL = 1e-4
PROMPTS = [[5, 17, 40, 9, 100, 200, 300], [1, 60, 61, 62], [300, 7]]


@pytest.fixture(scope="module")
def qwen2_dir(tmp_path_factory):
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2"), initializer_range=0.2)


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    """The tiny model as a LlamaForCausalLM (llama.cpp's LLAMA graph: q/k rows permuted), same tokenizer."""
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), initializer_range=0.2, architecture="llama")


def _backend(model_dir, **kwargs) -> LlamaCppBackend:
    return LlamaCppBackend(str(model_dir), tensor_type="f32", n_threads=1, concurrency=4, context_length=256, **kwargs)


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_f32_export_samples_what_transformers_computes(arch, qwen2_dir, llama_dir):
    model_dir = qwen2_dir if arch == "qwen2" else llama_dir
    hf = HFBackend(str(model_dir), lora=None, device="cpu")
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(model_dir) as backend:
        assert isinstance(backend, PolicyBackend) and backend.concurrent_requests and backend.generator is None
        ours, theirs = backend.generate(PROMPTS, greedy), hf.generate(PROMPTS, greedy)
        for a, b in zip(ours, theirs):
            assert a.token_ids == b.token_ids and a.finish_reason == b.finish_reason
            assert a.logprobs == pytest.approx(b.logprobs, abs=TOL)
        for temperature in (1.0, 0.7):  # sampled: the draw's logprob under softmax(logits / T)
            for prompt, g in zip(PROMPTS, backend.generate(PROMPTS, SamplingParams(temperature=temperature, max_new_tokens=24, seed=3))):
                assert len(g.token_ids) == len(g.logprobs) > 0
                assert g.logprobs == pytest.approx(reference_logprobs(hf, prompt, g.token_ids, temperature), abs=TOL)
        (truncated,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, top_p=0.8, max_new_tokens=12, seed=1))
        assert truncated.logprobs == pytest.approx(reference_logprobs(hf, PROMPTS[0], truncated.token_ids, 1.0), abs=TOL)  # before truncation
        with pytest.raises(ValueError, match="temperature other than 1"):
            backend.generate(PROMPTS[:1], SamplingParams(temperature=0.7, top_k=20))


def test_seeded_requests_repeat_and_unseeded_ones_differ(qwen2_dir):
    with _backend(qwen2_dir) as backend:
        seeded = SamplingParams(temperature=1.0, max_new_tokens=16, seed=7)
        assert [g.token_ids for g in backend.generate(PROMPTS, seeded)] == [g.token_ids for g in backend.generate(PROMPTS, seeded)]
        draws = backend.generate([PROMPTS[0]] * 4, SamplingParams(temperature=1.0, max_new_tokens=16))
        assert len({tuple(g.token_ids) for g in draws}) > 1


def test_a_sequence_ends_at_the_requested_stop_token(qwen2_dir):
    with _backend(qwen2_dir) as backend:
        (free,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, max_new_tokens=20, seed=5, stop_token_ids=(10**6,)))
        stop = free.token_ids[3]
        (cut,) = backend.generate(PROMPTS[:1], SamplingParams(temperature=1.0, max_new_tokens=20, seed=5, stop_token_ids=(stop,)))
    end = free.token_ids.index(stop) + 1
    assert cut.token_ids == free.token_ids[:end] and cut.finish_reason == "stop"
    assert cut.logprobs == pytest.approx(free.logprobs[:end], abs=TOL)


@pytest.mark.parametrize("targets", [None, ["q_proj", "v_proj", "lm_head"]], ids=["default", "tied-lm_head"])
def test_a_merged_lora_adapter_samples_what_transformers_does_with_it(targets, qwen2_dir, tmp_path):
    # tied-lm_head: the tiny model ties its output layer to the embedding (as configs/tiny-cpu.yaml trains it):
    # a LoRA there moves the head only, so the export writes an untied output tensor
    hf = random_lora_adapter(qwen2_dir, tmp_path / "adapter", target_modules=targets)
    assert hf.base_model.config.tie_word_embeddings
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(qwen2_dir, adapter_path=tmp_path / "adapter") as backend:
        ours, theirs = backend.generate(PROMPTS, greedy), hf.generate(PROMPTS, greedy)
        with hf.sampling_base_model():
            base = hf.generate(PROMPTS, greedy)
    assert [g.token_ids for g in ours] == [g.token_ids for g in theirs]
    for a, b in zip(ours, theirs):
        assert a.logprobs == pytest.approx(b.logprobs, abs=TOL)
    assert any(a.logprobs != pytest.approx(c.logprobs, abs=1e-2) for a, c in zip(ours, base))  # the adapter matters


def test_load_adapter_switches_what_is_sampled_and_sampling_base_model_restores_it(qwen2_dir, tmp_path):
    random_lora_adapter(qwen2_dir, tmp_path / "adapter")
    greedy = SamplingParams(temperature=0.0, max_new_tokens=12)
    with _backend(qwen2_dir) as backend:
        before = backend.generate(PROMPTS, greedy)
        merged = backend.load_adapter(tmp_path / "adapter")
        assert merged.is_file() and merged.parent == backend.workdir and backend.publish_s > 0
        after = backend.generate(PROMPTS, greedy)
        with backend.sampling_base_model():
            inside = backend.generate(PROMPTS, greedy)
        restored = backend.generate(PROMPTS, greedy)
        workdir = backend.workdir
    assert any(a.logprobs != pytest.approx(b.logprobs, abs=1e-2) for a, b in zip(before, after))
    for b, i in zip(before, inside):
        assert i.token_ids == b.token_ids and i.logprobs == pytest.approx(b.logprobs, abs=TOL)
    for a, r in zip(after, restored):
        assert r.token_ids == a.token_ids and r.logprobs == pytest.approx(a.logprobs, abs=TOL)
    assert not workdir.exists()  # close() removes the run-owned folder


def test_requests_from_many_threads_are_batched_and_stay_exact(qwen2_dir):
    hf = HFBackend(str(qwen2_dir), lora=None, device="cpu")
    results, errors = {}, []
    sampling = SamplingParams(temperature=1.0, max_new_tokens=24)

    with _backend(qwen2_dir) as backend:

        def episode(i):
            try:
                prompt = PROMPTS[i % len(PROMPTS)] + [i + 20]
                (results[i],) = backend.generate([prompt], sampling)
                results[i] = (prompt, results[i])
            except Exception as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=episode, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors and len(results) == 8
    for prompt, g in results.values():
        assert g.logprobs == pytest.approx(reference_logprobs(hf, prompt, g.token_ids, 1.0), abs=TOL)


def test_an_unsupported_architecture_is_refused_by_name(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2"}))
    with pytest.raises(ValueError, match="GPT2LMHeadModel") as err:
        export_gguf(tmp_path, tmp_path / "out.gguf")
    assert "GPT2LMHeadModel" in str(err.value) and "LlamaForCausalLM" in str(err.value) and "Qwen2ForCausalLM" in str(err.value)


def test_quantized_exports_load_and_follow_the_model(qwen2_dir):
    """q8_0 and bf16 are a sampler of their own: the same greedy path on this model, logprobs close, not equal."""
    hf = HFBackend(str(qwen2_dir), lora=None, device="cpu")
    greedy = SamplingParams(temperature=0.0, max_new_tokens=4)
    (reference,) = hf.generate(PROMPTS[:1], greedy)
    for tensor_type in ("bf16", "q8_0"):
        with LlamaCppBackend(str(qwen2_dir), tensor_type=tensor_type, n_threads=1, concurrency=1, context_length=128) as backend:
            (g,) = backend.generate(PROMPTS[:1], greedy)
        assert g.logprobs[0] == pytest.approx(reference.logprobs[0], abs=0.2)


def test_the_default_tensor_type_follows_the_cpu():
    assert default_tensor_type(["avx2", "avx512", "avx512_bf16"]) == "bf16"
    assert default_tensor_type(["avx2", "amx_bf16", "amx_tile"]) == "bf16"
    assert default_tensor_type(["avx2", "avx512"]) == "f32"


def test_a_missing_xllamacpp_names_the_extra(monkeypatch, qwen2_dir):
    import sys

    monkeypatch.setitem(sys.modules, "xllamacpp", None)
    with pytest.raises(ImportError, match=r"looprl\[llamacpp\]"):
        _backend(qwen2_dir)


def test_rollout_backend_llamacpp_builds_the_sampler(qwen2_dir, tmp_path):
    from pathlib import Path

    from looprl.build import build_sampling_backend
    from looprl.config import TrainConfig, load_config

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    overrides = [f"model.name_or_path={qwen2_dir}", f"run_dir={tmp_path}", "rollout.backend=llamacpp", "rollout.llamacpp_tensor_type=f32"]
    cfg = load_config(TrainConfig, recipe, [*overrides, "rollout.concurrency=2", "rollout.sampling.max_context_tokens=256"])
    backend = build_sampling_backend(cfg)
    try:
        assert isinstance(backend, LlamaCppBackend) and backend.tensor_type == "f32" and backend.concurrency == 2 and backend.context_length == 256
    finally:
        backend.close()


def test_a_backend_closed_right_after_it_is_built_shuts_down(qwen2_dir):
    """xllamacpp's server hangs in its destructor when destroyed before it has served anything; the
    backend serves one token at start so that build-then-close (a failed run's cleanup) returns. In a
    child process so that a hang fails this test instead of the suite."""
    import subprocess
    import sys

    code = (
        "from looprl.backends.llamacpp import LlamaCppBackend\n"
        "for _ in range(3):\n"
        f"    LlamaCppBackend({str(qwen2_dir)!r}, tensor_type='f32', concurrency=2, context_length=256).close()\n"
        "print('closed')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "closed" in done.stdout, done.stderr[-2000:]


def test_a_backend_never_closed_leaves_no_export_behind(qwen2_dir):
    """The exported GGUFs go when the backend is collected or its process exits, not only at close()."""
    import subprocess
    import sys

    code = (
        "import gc\n"
        "from looprl.backends.llamacpp import LlamaCppBackend\n"
        f"b = LlamaCppBackend({str(qwen2_dir)!r}, tensor_type='f32', concurrency=1, context_length=128)\n"
        "print(b.workdir, flush=True)\n"
        "w = b.workdir\n"
        "del b\n"
        "gc.collect()\n"
        "print('collected', w.exists(), flush=True)\n"
        f"c = LlamaCppBackend({str(qwen2_dir)!r}, tensor_type='f32', concurrency=1, context_length=128)\n"
        "print(c.workdir, flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    first, collected, second = done.stdout.split("\n")[:3]
    assert collected == "collected False"  # collected: removed then
    assert not Path(first).exists() and not Path(second).exists()  # never collected: removed at exit
