"""HFBackend: batched generation equals one-at-a-time, stop handling, the policy's logprobs,
chunked logprobs equal the naive computation (values and gradients), adapter I/O and disabling."""

from __future__ import annotations

import contextlib
import json

import pytest

torch = pytest.importorskip("torch")

from looprl.backends import HFBackend, SamplingParams  # noqa: E402
from looprl.backends.hf import pad_token_batch  # noqa: E402
from looprl.config import LoraConfig  # noqa: E402

TEXTS = ["hello world", "print the answer please and also go", "x", "def f(): return 1", "the task is done"]


@pytest.fixture(scope="module")
def peaked_model_dir(tmp_path_factory):
    """The tiny model with larger initial weights, so greedy decoding is varied rather than one repeated token."""
    from looprl.testing import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-peaked"), initializer_range=0.2)


@pytest.fixture(scope="module")
def backend(peaked_model_dir):
    return HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8), seed=0)


def chat_prompts(tok, texts=TEXTS):
    out = []
    for text in texts:
        ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True)
        out.append(list(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids))
    return out


def perturb_lora(backend, seed=1, scale=0.5):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in backend.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=gen) * scale)


def naive_logprobs(model, ids, mask):
    """Full (B, T, vocab) logits at once, each row run alone without padding."""
    out = torch.zeros(ids.shape, dtype=torch.float32)
    for i in range(ids.shape[0]):
        cols = mask[i].nonzero().squeeze(-1)
        row = ids[i, cols][None]
        logits = model(input_ids=row).logits.float()
        lp = torch.log_softmax(logits[0, :-1], -1).gather(-1, row[0, 1:, None]).squeeze(-1)
        out[i, cols[1:]] = lp
    return out


def test_stop_tokens_include_end_of_turn(backend):
    im_end = backend.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert backend.stop_token_ids[0] == im_end


def test_greedy_batched_equals_one_at_a_time(backend):
    prompts = chat_prompts(backend.tokenizer)
    assert len({len(p) for p in prompts}) > 1  # left padding is exercised
    sp = SamplingParams(temperature=0.0, max_new_tokens=40)
    batched = backend.generate(prompts, sp)
    single = [backend.generate([p], sp)[0] for p in prompts]
    assert len({tuple(g.token_ids[:5]) for g in batched}) == len(prompts)  # varied output, not a constant
    assert {g.finish_reason for g in batched} == {"stop", "length"}
    for b, s in zip(batched, single):
        assert b.token_ids == s.token_ids
        assert b.finish_reason == s.finish_reason
        assert b.logprobs == pytest.approx(s.logprobs, abs=1e-4)
    for g in batched:
        if g.finish_reason == "stop":
            assert g.token_ids[-1] in backend.stop_token_ids
            assert not any(t in backend.stop_token_ids for t in g.token_ids[:-1])
        else:
            assert len(g.token_ids) == 40


def test_per_row_stop_on_requested_token(backend):
    prompts = chat_prompts(backend.tokenizer)
    free = backend.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=20))
    stop = free[0].token_ids[6]
    out = backend.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=20, stop_token_ids=(stop,)))
    for f, o in zip(free, out):
        if stop in f.token_ids:
            k = f.token_ids.index(stop) + 1
            assert o.token_ids == f.token_ids[:k] and o.finish_reason == "stop"
        else:
            assert o.token_ids == f.token_ids and o.finish_reason == "length"
    assert out[0].finish_reason == "stop" and len(out[0].token_ids) <= 7


@contextlib.contextmanager
def policy_temperature(backend, temperature):
    before = backend.policy_temperature
    backend.policy_temperature = temperature
    try:
        yield backend
    finally:
        backend.policy_temperature = before


@pytest.mark.parametrize("temperature,top_k,top_p", [(1.0, 0, 1.0), (0.7, 0, 1.0), (0.7, 5, 0.9), (0.0, 0, 1.0)])
def test_returned_logprobs_are_the_policy_logprobs(backend, temperature, top_k, top_p):
    """A sample's logprobs are those a trainer whose policy has the sampling temperature computes
    (temperature 1 for greedy), before top-p/top-k truncation."""
    prompts = chat_prompts(backend.tokenizer)[:3]
    gens = backend.generate(prompts, SamplingParams(temperature=temperature, top_k=top_k, top_p=top_p, max_new_tokens=12, seed=3))
    seqs = [p + g.token_ids for p, g in zip(prompts, gens)]
    ids, mask = pad_token_batch(seqs, backend.pad_token_id)
    with policy_temperature(backend, temperature or 1.0):
        lp = backend.token_logprobs(ids, mask, grad=False)
    for i, (p, g) in enumerate(zip(prompts, gens)):
        expected = lp[i, len(p) : len(p) + len(g.token_ids)]
        assert g.logprobs == pytest.approx(expected.tolist(), abs=1e-4)
    if temperature not in (0.0, 1.0):  # and they are not the temperature-1 policy's
        untempered = backend.token_logprobs(ids, mask, grad=False)[0, len(prompts[0]) : len(seqs[0])]
        assert max(abs(a - b) for a, b in zip(gens[0].logprobs, untempered.tolist())) > 1e-2


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_policy_temperature_scales_the_logits(peaked_model_dir, temperature):
    """token_logprobs (and their gradient) are log-softmax(logits / T) for a policy of temperature T."""
    tempered = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8), seed=0, policy_temperature=temperature)
    perturb_lora(tempered, seed=2, scale=0.05)
    seqs = [list(range(3, 3 + n)) for n in (11, 7)]
    ids, mask = pad_token_batch(seqs, tempered.pad_token_id)
    got = tempered.token_logprobs(ids, mask, grad=True, chunk_size=4)
    expected = torch.zeros(ids.shape)
    for i in range(ids.shape[0]):
        cols = mask[i].nonzero().squeeze(-1)
        row = ids[i, cols][None]
        logits = tempered.model(input_ids=row).logits.float()[0, :-1] / temperature
        expected[i, cols[1:]] = torch.log_softmax(logits, -1).gather(-1, row[0, 1:, None]).squeeze(-1)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
    (g_got,) = torch.autograd.grad(got.sum(), tempered.trainable_parameters()[:1])
    (g_exp,) = torch.autograd.grad(expected.sum(), tempered.trainable_parameters()[:1])
    torch.testing.assert_close(g_got, g_exp, atol=1e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="policy_temperature must be > 0"):
        HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8), policy_temperature=0.0)


def test_seeded_sampling_is_reproducible(backend):
    prompts = chat_prompts(backend.tokenizer)
    sp = SamplingParams(temperature=1.0, max_new_tokens=16, seed=7)
    a, b = backend.generate(prompts, sp), backend.generate(prompts, sp)
    c = backend.generate(prompts, SamplingParams(temperature=1.0, max_new_tokens=16, seed=8))
    assert [g.token_ids for g in a] == [g.token_ids for g in b]
    assert [g.token_ids for g in a] != [g.token_ids for g in c]


def test_unseeded_sampling_advances_and_restarts_with_backend_seed(peaked_model_dir):
    prompts = [[5, 6, 7]] * 2
    sp = SamplingParams(temperature=1.0, max_new_tokens=16)
    one = HFBackend(str(peaked_model_dir), lora=None, seed=11)
    first, second = one.generate(prompts, sp), one.generate(prompts, sp)
    again = HFBackend(str(peaked_model_dir), lora=None, seed=11).generate(prompts, sp)
    assert [g.token_ids for g in first] != [g.token_ids for g in second]
    assert [g.token_ids for g in first] == [g.token_ids for g in again]


def test_top_k_one_and_tiny_top_p_are_greedy(backend):
    prompts = chat_prompts(backend.tokenizer)
    greedy = backend.generate(prompts, SamplingParams(temperature=0.0, max_new_tokens=10))
    k1 = backend.generate(prompts, SamplingParams(temperature=1.0, top_k=1, max_new_tokens=10, seed=1))
    p0 = backend.generate(prompts, SamplingParams(temperature=1.0, top_p=1e-6, max_new_tokens=10, seed=1))
    assert [g.token_ids for g in k1] == [g.token_ids for g in greedy] == [g.token_ids for g in p0]


@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("chunk_size", [1, 3, 1024])
def test_chunked_logprobs_equal_naive(backend, side, chunk_size):
    perturb_lora(backend, seed=2, scale=0.05)
    seqs = [list(range(3, 3 + n)) for n in (17, 9, 12)]
    ids, mask = pad_token_batch(seqs, backend.pad_token_id, side=side)
    params = backend.trainable_parameters()

    got = backend.token_logprobs(ids, mask, grad=True, chunk_size=chunk_size)
    assert got.shape == ids.shape and got.dtype == torch.float32
    assert bool((got[:, 0] == 0).all()) and bool((got[mask == 0] == 0).all())
    grads_got = torch.autograd.grad((got * torch.linspace(0.5, 1.5, got.shape[1])).sum(), params)

    ref = naive_logprobs(backend.model, ids, mask)
    grads_ref = torch.autograd.grad((ref * torch.linspace(0.5, 1.5, ref.shape[1])).sum(), params)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    for a, b in zip(grads_got, grads_ref):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
    no_grad = backend.token_logprobs(ids, mask, grad=False, chunk_size=chunk_size)
    assert not no_grad.requires_grad
    torch.testing.assert_close(no_grad, got.detach(), atol=1e-6, rtol=1e-6)


def test_hidden_state_comes_with_logprobs(backend):
    ids = torch.tensor([[3, 4, 5, 6]])
    lp, hidden = backend.logprobs_and_hidden(ids, grad=False)
    assert hidden.shape == (1, 4, backend.base_model.config.hidden_size)
    torch.testing.assert_close(lp, backend.token_logprobs(ids, grad=False))


def test_disable_adapter_gives_base_model(peaked_model_dir):
    b = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8))
    plain = HFBackend(str(peaked_model_dir), lora=None)
    ids = torch.tensor([[3, 9, 27, 81, 243, 5, 6]])
    base_lp = plain.token_logprobs(ids, grad=False)
    torch.testing.assert_close(b.token_logprobs(ids, grad=False), base_lp)  # fresh LoRA: B = 0
    perturb_lora(b)
    assert not torch.allclose(b.token_logprobs(ids, grad=False), base_lp, atol=1e-3)
    with b.disable_adapter():
        torch.testing.assert_close(b.token_logprobs(ids, grad=False), base_lp)
    assert not torch.allclose(b.token_logprobs(ids, grad=False), base_lp, atol=1e-3)
    with pytest.raises(RuntimeError, match="lora=None"):
        with plain.disable_adapter():
            pass


def test_adapter_round_trip_in_peft_format(peaked_model_dir, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    src = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8))
    perturb_lora(src, seed=4, scale=0.2)
    ids = torch.tensor([[3, 9, 27, 81, 243, 5, 6]])
    want = src.token_logprobs(ids, grad=False)
    path = tmp_path / "adapter"
    src.save_adapter(path)
    src.save_adapter(path)  # overwriting an existing adapter is fine
    assert json.loads((path / "adapter_config.json").read_text())["r"] == 4
    assert [p.name for p in tmp_path.iterdir()] == ["adapter"]  # no temp folders left behind

    dst = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8))
    params_before = [id(p) for p in dst.trainable_parameters()]
    assert not torch.allclose(dst.token_logprobs(ids, grad=False), want, atol=1e-3)
    dst.load_adapter(path)
    assert [id(p) for p in dst.trainable_parameters()] == params_before  # in place: optimizer state stays valid
    torch.testing.assert_close(dst.token_logprobs(ids, grad=False), want)

    from_path = HFBackend(str(peaked_model_dir), adapter_path=str(path))
    torch.testing.assert_close(from_path.token_logprobs(ids, grad=False), want)
    assert all(p.requires_grad for p in from_path.trainable_parameters()) and from_path.trainable_parameters()

    peft_model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(peaked_model_dir), str(path))
    logits = peft_model(input_ids=ids).logits
    ref = torch.log_softmax(logits[0, :-1], -1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    torch.testing.assert_close(want[0, 1:], ref, atol=1e-5, rtol=1e-5)

    wrong = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=2, alpha=8))
    with pytest.raises(ValueError, match="r=4"):
        wrong.load_adapter(path)
    with pytest.raises(FileNotFoundError, match="adapter_config.json"):
        dst.load_adapter(tmp_path / "nowhere")


def test_trainable_parameters_are_lora_only(backend):
    names = [n for n, p in backend.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)


def test_gradient_checkpointing_gives_same_gradients(peaked_model_dir):
    ids, mask = pad_token_batch([list(range(3, 20)), list(range(30, 40))], 0)
    grads = []
    for ckpt in (False, True):
        torch.manual_seed(0)  # LoRA A is initialized from the global generator
        b = HFBackend(str(peaked_model_dir), lora=LoraConfig(r=4, alpha=8), gradient_checkpointing=ckpt)
        perturb_lora(b, seed=5, scale=0.05)
        lp = b.token_logprobs(ids, mask, chunk_size=4)
        grads.append(torch.autograd.grad(lp.sum(), b.trainable_parameters()))
    for a, c in zip(*grads):
        torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-4)


def test_bad_inputs_are_named(backend, peaked_model_dir):
    with pytest.raises(ValueError, match="prompts \\[1\\] are empty"):
        backend.generate([[1, 2], []], SamplingParams())
    with pytest.raises(ValueError, match="top_p"):
        backend.generate([[1, 2]], SamplingParams(top_p=0.0))
    with pytest.raises(ValueError, match="dtype must be one of"):
        HFBackend(str(peaked_model_dir), dtype="float8")
    with pytest.raises(ValueError, match="\\(B, T\\)"):
        backend.token_logprobs(torch.tensor([1, 2, 3]))


def _ragged_batch(vocab: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded ids (3, 24), their attention mask and a loss mask on each row's second half."""
    g = torch.Generator().manual_seed(3)
    ids = torch.randint(10, vocab, (3, 24), generator=g)
    attention = torch.ones_like(ids)
    attention[1, 17:] = 0
    attention[2, 9:] = 0
    positions = torch.zeros_like(ids, dtype=torch.bool)
    for row, n in enumerate(attention.sum(dim=1).tolist()):
        positions[row, n // 2 : n] = True
    return ids, attention, positions


@pytest.mark.parametrize("grad", [False, True])
def test_logprobs_at_selected_positions_equal_the_full_ones_and_are_zero_elsewhere(backend, grad):
    ids, attention, positions = _ragged_batch(backend.model.config.vocab_size)
    full, hidden = backend.logprobs_and_hidden(ids, attention, grad=grad, chunk_size=5)
    picked, picked_hidden = backend.logprobs_and_hidden(ids, attention, grad=grad, chunk_size=5, positions=positions)
    # the same fp32 dot products; only the GEMM kernel a shape picks may round the last bit differently
    torch.testing.assert_close(picked[positions], full[positions], atol=1e-6, rtol=1e-6)
    assert bool((picked[~positions] == 0).all()) and bool((full[positions] != 0).all())
    assert torch.equal(picked_hidden, hidden)
    assert picked.requires_grad == grad


def test_selected_positions_check_their_shape(backend):
    ids, attention, positions = _ragged_batch(backend.model.config.vocab_size)
    with pytest.raises(ValueError, match=r"positions must be a \(B, T\) mask"):
        backend.token_logprobs(ids, attention, positions=positions[:, :-1])


def test_bf16_autocast_logprobs_are_close_to_fp32_and_log_softmax_stays_fp32(tiny_model_dir):
    backend = HFBackend(str(tiny_model_dir), lora=LoraConfig(r=4, alpha=8), seed=0)  # the plain tiny model, not a perturbed one
    ids, attention, positions = _ragged_batch(backend.model.config.vocab_size)
    fp32 = backend.token_logprobs(ids, attention, grad=False)
    bf16 = backend.token_logprobs(ids, attention, grad=False, autocast="bfloat16")
    assert bf16.dtype == torch.float32 and backend.trainable_parameters()[0].dtype == torch.float32  # fp32 master weights
    real = fp32 != 0
    assert not torch.equal(bf16, fp32)  # the matmuls did run in bf16
    torch.testing.assert_close(bf16[real], fp32[real], atol=3e-2, rtol=1e-2)
    # with grad (the training forward) and without (the old-logprob pass) the same numbers: the first ratio is 1
    with_grad = backend.token_logprobs(ids, attention, grad=True, autocast="bfloat16", positions=positions)
    assert torch.equal(with_grad.detach()[positions], bf16[positions])


def test_an_unknown_autocast_is_refused(backend):
    with pytest.raises(ValueError, match="autocast must be 'bfloat16' or 'off'"):
        backend.token_logprobs(torch.tensor([[1, 2, 3]]), autocast="fp8")
