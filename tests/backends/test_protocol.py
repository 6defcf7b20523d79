"""Every backend and fake against the protocols of looprl/backends/base.py, member by member.

* Class level (no model, no server): each member the protocol declares exists on the class with the
  same kind (method, property, attribute) and a compatible signature (same positional names in the
  same order, the same keyword-only names, no extra parameter without a default). The checker is
  itself tested on classes that break the protocol in each of those ways.
* Instances, where one is cheap: isinstance() against the runtime-checkable protocols (the tiny
  HFBackend, a VLLMBackend on a fake server, the OpenAI chat backend, the fakes).
* Behaviour of `sampling_base_model()`: HFBackend samples the model without its adapter; a
  VLLMBackend routes requests to the served base model (LoRA mode) or reloads the base weights and
  the merged ones after (merged mode); the trainer collects RFT's sweep inside it, publishes with
  `load_adapter` and checkpoints the sampler's `generator`.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from looprl.backends.base import ChatBackend, PolicyBackend, SamplingParams, TrainableBackend, missing_members, protocol_members
from looprl.backends.hf import HFBackend
from looprl.backends.llamacpp import LlamaCppBackend
from looprl.backends.openai import OpenAIChatBackend
from looprl.backends.openvino import OpenVINOBackend
from looprl.backends.vllm import VLLMBackend, VLLMOfflineBackend
from looprl.testing.fakes import ScriptedChat, ScriptedPolicy
from looprl.training.distributed import ShardedPolicy

SAMPLER_MEMBERS = {"tokenizer", "stop_token_ids", "concurrent_requests", "generator", "generate", "load_adapter", "sampling_base_model"}
_ABSENT = object()
TRAINABLE_MEMBERS = SAMPLER_MEMBERS | {
    "model",
    "pad_token_id",
    "device",
    "policy_temperature",
    "hidden_size",
    "trainable_parameters",
    "token_logprobs",
    "logprobs_and_hidden",
    "last_hidden_state",
    "disable_adapter",
    "save_adapter",
}


# ---------------------------------------------------------------------------------------------------
# the checker
# ---------------------------------------------------------------------------------------------------
def _declared(protocol: type, name: str) -> object:
    """What `protocol` (or a protocol base) declares under `name`: a function, a property, or None for
    an annotated attribute."""
    for cls in protocol.__mro__:
        if name in vars(cls):
            return vars(cls)[name]
        if name in vars(cls).get("__annotations__", {}):
            return None
    raise KeyError(name)


def _assigned_on_self(cls: type) -> set[str]:
    """Names a class (or a base of it in this project) assigns as `self.NAME = ...` in its methods."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if klass is object or not klass.__module__.startswith("looprl"):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else []
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                        names.add(t.attr)
    return names


def _signature_problems(name: str, wanted: inspect.Signature, got: inspect.Signature) -> list[str]:
    P = inspect.Parameter
    positional = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
    want = [p for p in wanted.parameters.values() if p.name != "self"]
    have = [p for p in got.parameters.values() if p.name != "self"]
    have_positional = [p for p in have if p.kind in positional]
    have_by_name = {p.name: p for p in have}
    var_positional = any(p.kind == P.VAR_POSITIONAL for p in have)
    var_keyword = any(p.kind == P.VAR_KEYWORD for p in have)
    problems, matched = [], set()
    for i, p in enumerate(x for x in want if x.kind in positional):
        if i < len(have_positional):
            q = have_positional[i]
            if p.kind == P.POSITIONAL_OR_KEYWORD and q.name != p.name:
                problems.append(f"{name}: positional parameter {i} is {q.name!r}, the protocol's is {p.name!r}")
            if p.default is not P.empty and q.default is P.empty:
                problems.append(f"{name}: {q.name!r} needs a default, as the protocol's {p.name!r} has one")
            matched.add(q.name)
        elif not var_positional:
            problems.append(f"{name}: takes no positional parameter {p.name!r}")
    for p in (x for x in want if x.kind == P.KEYWORD_ONLY):
        q = have_by_name.get(p.name)
        if q is None or q.kind not in (P.KEYWORD_ONLY, P.POSITIONAL_OR_KEYWORD):
            if not var_keyword:
                problems.append(f"{name}: takes no keyword {p.name!r}")
            continue
        if p.default is not P.empty and q.default is P.empty:
            problems.append(f"{name}: keyword {p.name!r} needs a default, as the protocol's has one")
        matched.add(q.name)
    for q in have:
        if q.name not in matched and q.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD) and q.default is P.empty:
            problems.append(f"{name}: extra required parameter {q.name!r} that callers of the protocol never pass")
    return problems


def conformance_problems(cls: type, protocol: type) -> list[str]:
    """Why `cls` does not implement `protocol` (empty when it does), checked on the class alone."""
    problems = []
    on_self = None
    for name in protocol_members(protocol):
        declared = _declared(protocol, name)
        found = inspect.getattr_static(cls, name, _ABSENT)
        if inspect.isfunction(declared):
            if not inspect.isfunction(found):
                problems.append(f"{name}: the protocol declares a method; {cls.__name__} has {'none' if found is _ABSENT else type(found).__name__}")
                continue
            problems += _signature_problems(name, inspect.signature(declared), inspect.signature(found))
        elif found is _ABSENT:  # a property or an attribute: a class attribute, a property, or set on self
            on_self = _assigned_on_self(cls) if on_self is None else on_self
            if name not in on_self:
                problems.append(f"{name}: the protocol declares an attribute; {cls.__name__} neither defines nor assigns it")
        elif inspect.isfunction(found):
            problems.append(f"{name}: the protocol declares an attribute or property; {cls.__name__} has a method")
    return problems


# ---------------------------------------------------------------------------------------------------
# the protocols themselves, and the checker on classes that break them
# ---------------------------------------------------------------------------------------------------
def test_the_protocols_declare_what_the_trainer_and_collector_use():
    assert set(protocol_members(PolicyBackend)) == SAMPLER_MEMBERS
    assert set(protocol_members(TrainableBackend)) == TRAINABLE_MEMBERS
    assert set(protocol_members(ChatBackend)) == {"chat", "concurrent_requests"}


class _Good(ScriptedPolicy):
    pass


class _NoBaseModel:
    tokenizer = stop_token_ids = concurrent_requests = generator = None

    def generate(self, prompts, sampling): ...

    def load_adapter(self, path): ...


class _RenamedParameter(ScriptedPolicy):
    def load_adapter(self, folder):  # callers pass `path=`
        ...


class _ExtraRequired(ScriptedPolicy):
    def generate(self, prompts, sampling, temperature): ...


class _AttributeAsMethod(ScriptedPolicy):
    def concurrent_requests(self): ...


class _MethodAsAttribute(ScriptedPolicy):
    sampling_base_model = None


class _MissingKeyword:
    def token_logprobs(self, input_ids, attention_mask=None, *, grad=True): ...


def test_the_checker_finds_each_way_a_class_can_break_the_protocol():
    assert conformance_problems(_Good, PolicyBackend) == []
    assert conformance_problems(_NoBaseModel, PolicyBackend) == ["sampling_base_model: the protocol declares a method; _NoBaseModel has none"]
    assert conformance_problems(_RenamedParameter, PolicyBackend) == ["load_adapter: positional parameter 0 is 'folder', the protocol's is 'path'"]
    assert conformance_problems(_ExtraRequired, PolicyBackend) == ["generate: extra required parameter 'temperature' that callers of the protocol never pass"]
    assert conformance_problems(_AttributeAsMethod, PolicyBackend) == [
        "concurrent_requests: the protocol declares an attribute or property; _AttributeAsMethod has a method"
    ]
    assert conformance_problems(_MethodAsAttribute, PolicyBackend) == ["sampling_base_model: the protocol declares a method; _MethodAsAttribute has NoneType"]
    assert "token_logprobs: takes no keyword 'chunk_size'" in conformance_problems(_MissingKeyword, TrainableBackend)
    assert not isinstance(_NoBaseModel(), PolicyBackend)
    assert missing_members(_NoBaseModel(), PolicyBackend) == ["sampling_base_model"]


# ---------------------------------------------------------------------------------------------------
# every backend and fake, on the class
# ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, protocol",
    [
        (HFBackend, TrainableBackend),
        (ShardedPolicy, TrainableBackend),
        (VLLMBackend, PolicyBackend),
        (VLLMOfflineBackend, PolicyBackend),
        (LlamaCppBackend, PolicyBackend),
        (OpenVINOBackend, PolicyBackend),
        (ScriptedPolicy, PolicyBackend),
        (OpenAIChatBackend, ChatBackend),
        (ScriptedChat, ChatBackend),
    ],
    ids=lambda x: x.__name__,
)
def test_every_backend_implements_its_protocol(cls, protocol):
    assert conformance_problems(cls, protocol) == []


def test_the_openai_backend_is_a_chat_backend_only():
    """Text, not token ids: it has none of a sampler's members but concurrent_requests."""
    problems = conformance_problems(OpenAIChatBackend, PolicyBackend)
    assert sorted(p.split(":")[0] for p in problems) == sorted(SAMPLER_MEMBERS - {"concurrent_requests"})
    chat = OpenAIChatBackend("served-model", base_url="http://127.0.0.1:9/v1")  # no request is made
    try:
        assert isinstance(chat, ChatBackend) and not isinstance(chat, PolicyBackend)
    finally:
        chat.close()


def test_the_fakes_are_instances_of_their_protocols():
    assert isinstance(ScriptedPolicy(), PolicyBackend) and not isinstance(ScriptedPolicy(), ChatBackend)
    assert isinstance(ScriptedChat(), ChatBackend) and not isinstance(ScriptedChat(), PolicyBackend)


# ---------------------------------------------------------------------------------------------------
# HFBackend
# ---------------------------------------------------------------------------------------------------
def test_hf_backend_samples_the_model_without_its_adapter_inside_sampling_base_model(tiny_model_dir):
    import torch

    from looprl.config import LoraConfig

    lora = HFBackend(str(tiny_model_dir), lora=LoraConfig(r=4, alpha=8), device="cpu")
    plain = HFBackend(str(tiny_model_dir), lora=None, device="cpu")
    assert isinstance(lora, TrainableBackend) and isinstance(lora, PolicyBackend)
    with torch.no_grad():
        for p in lora.trainable_parameters():
            p.add_(torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    prompts, greedy = [[5, 17, 40, 9]], SamplingParams(temperature=0.0, max_new_tokens=6)
    (base,) = plain.generate(prompts, greedy)
    with lora.sampling_base_model():
        (inside,) = lora.generate(prompts, greedy)
    (after,) = lora.generate(prompts, greedy)
    assert inside.token_ids == base.token_ids and inside.logprobs == pytest.approx(base.logprobs, abs=1e-5)
    assert after.logprobs != pytest.approx(base.logprobs, abs=1e-3)  # the adapter is back


# ---------------------------------------------------------------------------------------------------
# VLLMBackend on a fake server (the real one: tests/backends/test_vllm.py)
# ---------------------------------------------------------------------------------------------------
class FakeVLLM:
    """Answers the endpoints VLLMBackend uses; records which model each completion asked for and
    which weights each reload read."""

    def __init__(self) -> None:
        self.models: list[str] = []
        self.reloads: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"data": [{"id": "served-base", "parent": None}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["content-length"])) or b"{}")
                if self.path == "/v1/completions":
                    fake.models.append(body["model"])
                    self._send({"choices": [{"token_ids": [7, 2], "logprobs": {"token_logprobs": [-0.5, -0.25]}, "finish_reason": "stop"}]})
                    return
                if self.path == "/collective_rpc":
                    fake.reloads.append(body["kwargs"]["weights_path"])
                self._send({})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def _vllm_backend(model_dir, **kwargs):
    fake = FakeVLLM()
    backend = VLLMBackend(str(model_dir), base_url=fake.url, **kwargs)
    try:
        yield backend, fake
    finally:
        backend.close()
        fake.close()


def test_vllm_backend_routes_requests_to_the_base_model_inside_sampling_base_model(tiny_model_dir, tmp_path):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")  # the fake server never reads it
    one = SamplingParams(max_new_tokens=4)
    with _vllm_backend(tiny_model_dir) as (backend, fake):
        assert isinstance(backend, PolicyBackend) and backend.generator is None and backend.concurrent_requests
        backend.generate([[5, 6]], one)
        name = backend.load_adapter(adapter)
        backend.generate([[5, 6]], one)
        with backend.sampling_base_model():
            backend.generate([[5, 6], [7]], one)
        backend.generate([[5, 6]], one)
    assert fake.models == ["served-base", name, "served-base", "served-base", name]


def test_vllm_backend_with_merged_adapters_reloads_the_base_weights_inside_sampling_base_model(tiny_model_dir, tmp_path):
    from looprl.config import LoraConfig

    adapter = tmp_path / "adapter"
    HFBackend(str(tiny_model_dir), lora=LoraConfig(r=4, alpha=8), device="cpu").save_adapter(adapter)
    with _vllm_backend(tiny_model_dir, adapter_sync="merged") as (backend, fake):
        base = backend.model_name_or_path
        with backend.sampling_base_model():  # nothing merged yet: the server already holds the base weights
            pass
        assert fake.reloads == [base]  # the one at start-up (a shared server may hold another client's weights)
        backend.load_adapter(adapter)
        merged = fake.reloads[-1]
        assert merged != base and (Path(merged) / "config.json").is_file()
        with backend.sampling_base_model():
            assert fake.reloads[-1] == base
            backend.generate([[5, 6]], SamplingParams(max_new_tokens=4))
        assert fake.reloads == [base, merged, base, merged]


# ---------------------------------------------------------------------------------------------------
# the trainer calls the protocol
# ---------------------------------------------------------------------------------------------------
def test_the_trainer_samples_rft_from_the_base_model_publishes_and_checkpoints_through_the_protocol(tiny_model_dir, tmp_path):
    from looprl.config import TrainConfig, load_config
    from looprl.training.checkpoint import load_latest
    from looprl.training.methods.facts import RFT_TEMPERATURES
    from looprl.training.trainer import Trainer

    recipe = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"
    calls = []

    def collect(backend, env_factory, task_ids, spec, **kw):
        from looprl.rollout import Collection, CollectionStats

        calls.append((spec.sampling.temperature, backend.on_base_model))
        return Collection([], CollectionStats())

    def trainer(run_dir, method):
        overrides = [f"model.name_or_path={tiny_model_dir}", f"run_dir={run_dir}", "logging.tensorboard=false", "trainer.eval_every=0"]
        cfg = load_config(TrainConfig, recipe, [*overrides, "trainer.iterations=1", f"trainer.method={method}"])
        return Trainer(cfg, collect_fn=collect, progress=False)

    hf = trainer(tmp_path / "hf", "rft")  # the transformers sampler: the policy itself, whose generator is checkpointed
    assert hf.sampler_backend is hf.policy and hf._generators()["policy"] is hf.policy.generator
    rft = trainer(tmp_path / "rft", "rft")
    rft.sampler_backend = sampler = ScriptedPolicy()  # a sampler of its own, as a vLLM server is
    rft.train_one_iteration()
    assert calls == [(t, True) for t in RFT_TEMPERATURES] and not sampler.on_base_model
    assert sampler.adapters == [str(tmp_path / "rft" / "adapter_latest")]  # the update, published
    _, state = load_latest(tmp_path / "rft")
    assert "gen:policy" not in state.rng and "gen:shuffle" in state.rng  # its generator is None: nothing of it to keep
