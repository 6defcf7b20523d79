"""Benchmark: the sampler engines side by side, in one run, on this machine, at the demo's concurrency,
on the token-id prompts of the demo's own episodes.

Prompts. Once per setting, `record` runs one LOOP iteration's collection of the demo's setting
(`DemoConfig().train`: SmolLM2-135M-Instruct, its scenarios, turn and token limits, temperature 0.7;
`--tasks` x `--k` episodes drawn as the trainer draws them) through the real collector with the
trainer's own sampler (transformers), and keeps every prompt exactly as the collector sent it: first
turns and later turns, each later one extending its episode's previous prompt (the previous reply and
the observation appended), with the turn's token budget. They are cached as `prompts.json` under `--out`
so every engine, in this run and the next, gets the same prompts (`--record` records them again).

Replay. Each engine runs in its own subprocess (its own memory and threads), one after the other,
driven the way the collector drives it: a backend with `concurrent_requests` gets one request per
episode turn, each episode's turns in order, at most `--concurrency` episodes in flight (default the
demo's rollout.concurrency; with fewer episodes than that, all of them); a batched backend gets every
episode's turn t in one generate() call per token budget (the collector's batch mode). Sampling is the
demo's: temperature 0.7, top-p 1, top-k off, unseeded (as training samples), the collector's stops.

Per engine (JSON `engines[]`, one markdown row each):

* startup_s: from building the backend (server start, model load, export excluded) to its first request
  served (one token); then one warm-up request;
* ttft_s: time to first token of a first-turn prompt alone (`first_turn`, cold) and right after it of
  the same episode's second-turn prompt (`later_turn`, which extends the first: where the engine has a
  prefix cache this is the cost of the new tokens only) - latency of a one-token request;
* the replay: wall_s, generated and prompt tokens and their rates per wall second, cpu_s (the process
  tree's CPU seconds during the replay), peak RSS of the process tree (polled every 0.2 s, whole run);
* utilization = useful FLOPs / (wall x peak FLOP/s), with `looprl.utils.flops` (model_shape,
  useful_flops, peak_flops measured in this run on all cores, which every engine uses by default).
  Useful FLOPs per request are a forward over its prompt and completion minus the forward over the
  prefix a prefix cache could hold (the longest prefix shared with a prompt sent before it: the K
  episodes of a task share their first prompt, a later turn extends its episode's previous one):
  re-prefilling that is not useful work. Judged against the peak of the engine's compute dtype: fp32
  engines the fp32 peak, bf16 the bf16 one, int8/q8_0 engines the best of the two (no int8 peak is
  measured: where int8 runs faster than bf16, e.g. AMX/VNNI, their figure is an upper bound). The peak
  is measured before the engines run: on a loaded machine it and they see different loads (a figure
  over 100% says so; only an idle machine's figures hold);
* logprob gap: the trainer's own fp32 logprobs of the engine's sampled tokens (HFBackend.token_logprobs
  over prompt + completion at the policy temperature, `--gap-requests` requests per engine, spread over
  the turns) against the engine's: mean and max |trainer - sampler| and the importance ratio
  exp(trainer - sampler), mean and max. A quantized sampler is allowed only with this mismatch measured
  (and corrected in the update: issue 23 item 2). OpenVINO returns raw logprobs (before the temperature,
  see OpenVINOSampler): its gap is taken against the trainer at T = 1, so it measures the int8 weights'
  mismatch, and its row says it cannot give the behaviour logprobs of a T != 1 policy;
* prefix caching on vs off: engines with the switch run twice (`vllm` as training runs it today, where
  vLLM's default turns it on - the server's log says so and the row records it - and `vllm-prefix-off`;
  `openvino-int8` and `openvino-int8-prefix-off`).

Engines (each returns token ids + per-token logprobs from token-id prompts):

* `vllm`: the managed vLLM CPU server exactly as training builds it (looprl.build.build_sampling_backend,
  rollout.backend vllm: .venvs/vllm, `looprl models setup-vllm`), adapter merged into its weights;
* `transformers`: the trainer's HFBackend (looprl.build.build_policy), batched;
* `llamacpp-bf16` / `llamacpp-f32` (bf16 where the CPU has AVX-512 BF16 or AMX) and `llamacpp-q8_0`:
  looprl.backends.llamacpp.LlamaCppBackend, when that module exists;
* `openvino-int8`: openvino-genai's ContinuousBatchingPipeline on int8 weights (optimum-cli export
  --weight-format int8), per-token logprobs from GenerationOutput.generated_log_probs. It runs in the
  OpenVINO backend's export environment `.venvs/openvino` (looprl/backends/openvino.py), installed on first
  use (versions recorded in the row); the exported model is cached in it.

An engine that cannot run here (its module missing, its install or export failing) is reported as
"not available: <reason>" and skipped. Ratios to the `vllm` row (the baseline, measured in this run)
are written only when the machine was idle at the start (`machine_is_idle`; `--wait-idle S` waits for
it, `--allow-load` overrides); otherwise the JSON says why. The issue's goal: some engine's generated
tokens/s >= 3x vllm's in the same run, or >= 50% of the compute limit of the cores it uses; the output
says which is reached, if any. Written under `--out` (default benchmarks/results/sampler/):
bench_sampler.json and bench_sampler.md (the command at its top).

    python benchmarks/bench_sampler.py                                        # all engines, the demo's size
    python benchmarks/bench_sampler.py --engines vllm transformers --tasks 2 --k 2 \\
        --set env.max_turns=2 --set rollout.sampling.max_new_tokens=32        # a small check
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from looprl.backends.openvino import default_openvino_venv, export_openvino, setup_openvino_venv  # noqa: E402
from looprl.utils.flops import (  # noqa: E402
    machine_is_idle,
    model_shape,
    peak_flops,
    process_tree_cpu_s,
    run_with_peak_rss,
    useful_flops,
    wait_for_idle,
)

RESULTS = REPO / "benchmarks" / "results" / "sampler"
OPENVINO_VENV = default_openvino_venv()  # the backend's export environment (looprl/backends/openvino.py); the engine runs in it
PREFIX = "[bench_sampler]"


@dataclass(frozen=True)
class EngineSpec:
    module: str  # what must be importable (in `venv`'s python) for the engine to run
    peak: str  # which measured peak its utilization is judged against: "fp32", "bf16" or "best" (of the two)
    prefix_caching: str  # "on" / "off": set by this row; "default": the engine's own (the row records it); "none": no prefix cache
    packages: tuple[str, ...]  # distributions whose versions the row records
    venv: Path | None = None  # None: this interpreter
    raw_logprobs: bool = False  # its logprobs are log-softmax(logits), before the temperature (the gap then compares at T = 1)


ENGINES: dict[str, EngineSpec] = {
    "vllm": EngineSpec("looprl.backends.vllm", "fp32", "default", ()),
    "vllm-prefix-off": EngineSpec("looprl.backends.vllm", "fp32", "off", ()),
    "transformers": EngineSpec("looprl.backends.hf", "fp32", "none", ("torch", "transformers")),
    "llamacpp-f32": EngineSpec("looprl.backends.llamacpp", "fp32", "default", ("xllamacpp", "llama-cpp-python")),
    "llamacpp-bf16": EngineSpec("looprl.backends.llamacpp", "bf16", "default", ("xllamacpp", "llama-cpp-python")),
    "llamacpp-q8_0": EngineSpec("looprl.backends.llamacpp", "best", "default", ("xllamacpp", "llama-cpp-python")),
    "openvino-int8": EngineSpec("openvino_genai", "best", "on", ("openvino", "openvino-genai", "optimum-intel", "nncf"), OPENVINO_VENV, True),
    "openvino-int8-prefix-off": EngineSpec("openvino_genai", "best", "off", ("openvino", "openvino-genai", "optimum-intel", "nncf"), OPENVINO_VENV, True),
}


def default_engines(cpu_flags: list[str]) -> list[str]:
    """Every engine once, llama.cpp in bf16 where the CPU has bf16 instructions (AVX-512 BF16, AMX), else fp32."""
    llama = "llamacpp-bf16" if {"avx512_bf16", "amx_bf16"} & set(cpu_flags) else "llamacpp-f32"
    return ["vllm", "vllm-prefix-off", "transformers", llama, "llamacpp-q8_0", "openvino-int8", "openvino-int8-prefix-off"]


def say(message: str) -> None:
    print(f"{PREFIX} {message}", flush=True)


# ------------------------------------------------------------------ the demo's setting


def demo_config(spec: dict[str, Any]):
    """DemoConfig().train with the benchmark's model, seed, concurrency and overrides, its run folder in `spec['run_dir']`."""
    from looprl.config import DemoConfig, TrainConfig, apply_overrides

    data = DemoConfig().train.model_dump(mode="json")
    sets = [f"model.name_or_path={spec['model']}", f"run_dir={spec['run_dir']}", f"seed={spec['seed']}", "logging.tensorboard=false"]
    sets += [f"rollout.concurrency={spec['concurrency']}"] if spec.get("concurrency") else []
    sets += [f"model.adapter_path={spec['adapter']}"] if spec.get("adapter") else []
    return TrainConfig.model_validate(apply_overrides(data, [*sets, *spec["overrides"]]))


# ------------------------------------------------------------------ recording the prompts (a child)


class _Recorder:
    """A PolicyBackend that hands every call to `inner` and keeps each prompt exactly as the collector
    rendered it, with the turn's token budget, the stops and what was sampled."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.tokenizer, self.stop_token_ids = inner, inner.tokenizer, inner.stop_token_ids
        self.concurrent_requests, self.generator = inner.concurrent_requests, inner.generator
        self.calls: list[tuple[list[int], int, list[int]]] = []
        self.stops: list[int] = []
        self._lock = threading.Lock()

    def generate(self, prompts, sampling):
        gens = self.inner.generate(prompts, sampling)
        with self._lock:
            self.calls += [(list(map(int, p)), sampling.max_new_tokens, list(g.token_ids)) for p, g in zip(prompts, gens)]
            self.stops = list(sampling.stop_token_ids)
        return gens

    def load_adapter(self, path):
        return self.inner.load_adapter(path)

    def sampling_base_model(self):
        return self.inner.sampling_base_model()


def link_episodes(calls: list[tuple[list[int], int, list[int]]]) -> list[list[dict[str, Any]]]:
    """Group recorded calls into episodes: a prompt continues the episode whose last prompt + reply it
    starts with (the collector appends the reply and the observation), else it opens a new episode."""
    episodes: list[list[dict[str, Any]]] = []
    heads: list[list[int]] = []  # per episode: its last prompt + what was sampled for it
    for prompt, budget, generated in calls:
        e = next((i for i, head in enumerate(heads) if len(prompt) > len(head) and prompt[: len(head)] == head), None)
        if e is None:
            e = len(episodes)
            episodes.append([])
            heads.append([])
        episodes[e].append({"prompt": prompt, "max_new_tokens": budget, "recorded_completion": len(generated)})
        heads[e] = prompt + generated
    return episodes


def record(spec: dict[str, Any]) -> dict[str, Any]:
    """One LOOP iteration's collection of the demo's setting through the collector: its prompts."""
    from looprl.build import build_env_factory, build_policy, rollout_spec
    from looprl.rollout import collect
    from looprl.training.sampler import TaskSampler
    from looprl.training.trainer import resolve_task_ids

    cfg = demo_config(spec)
    fresh = (lambda epoch: resolve_task_ids(cfg, cfg.tasks.train_split, epoch=epoch)) if cfg.tasks.fresh_instances else None
    task_ids = TaskSampler(resolve_task_ids(cfg, cfg.tasks.train_split), cfg.seed, fresh=fresh).sample(spec["tasks"])
    recorder = _Recorder(build_policy(cfg))
    collect(recorder, build_env_factory(cfg), task_ids, rollout_spec(cfg, max_turns=cfg.env.max_turns, seeded=False), k=spec["k"], progress=False)
    s = cfg.rollout.sampling
    return {
        "key": spec["key"],
        "task_ids": task_ids,
        "sampling": {"temperature": s.temperature, "top_p": s.top_p, "top_k": s.top_k, "stop_token_ids": recorder.stops},
        "concurrency": cfg.rollout.concurrency,
        "model_dtype": cfg.model.dtype,
        "episodes": [{"turns": turns} for turns in link_episodes(recorder.calls)],
    }


# ------------------------------------------------------------------ the OpenVINO engine (runs in the export environment, .venvs/openvino)


class OpenVINOSampler:
    """The sampler protocol's generate() over openvino-genai's ContinuousBatchingPipeline: each call adds
    its prompts as requests and steps the pipeline until they finish (continuous batching inside the
    call: the collector's batch mode). Logprobs are GenerationOutput.generated_log_probs (GenerationConfig
    logprobs=1), which are the model's raw log-softmax(logits) of the sampled token, *before* the
    temperature (openvino-genai 2026.4.1: the first token's logprob is the same at T = 0.7 and T = 1, and
    matches the trainer's at T = 1), not the sampling policy's log-softmax(logits / T) that looprl's
    samplers return and its importance ratios need. Fine at T = 1; at the demo's T = 0.7 the trainer
    would have to recompute the behaviour logprobs. Benchmark-only: no adapter swap (a trained adapter
    would be merged and exported again)."""

    concurrent_requests = False
    generator = None

    def __init__(self, model_dir: str, *, prefix_caching: bool, concurrency: int, stop_token_ids: tuple[int, ...], seed: int) -> None:
        import openvino_genai as ov_genai

        scheduler = ov_genai.SchedulerConfig()
        scheduler.enable_prefix_caching = prefix_caching
        scheduler.max_num_seqs = concurrency
        scheduler.cache_size = 2  # GiB, as the vLLM server's VLLM_CPU_KVCACHE_SPACE
        self.pipe = ov_genai.ContinuousBatchingPipeline(model_dir, scheduler, "CPU")
        self.tokenizer, self.stop_token_ids, self.seed, self._next_id = None, stop_token_ids, seed, 0

    def generate(self, prompts, sampling):
        import openvino as ov
        import openvino_genai as ov_genai

        from looprl.backends.base import Generation

        stops = set(sampling.stop_token_ids or self.stop_token_ids)
        handles = []
        for prompt in prompts:
            config = ov_genai.GenerationConfig()
            config.max_new_tokens, config.logprobs, config.stop_token_ids = sampling.max_new_tokens, 1, stops
            if sampling.temperature > 0:
                config.do_sample, config.temperature, config.top_p = True, sampling.temperature, sampling.top_p
                config.top_k = sampling.top_k if sampling.top_k > 0 else 0
            config.rng_seed = self.seed + self._next_id  # a seed per request, or every request draws the same numbers
            ids = ov.Tensor(__import__("numpy").asarray([list(prompt)], dtype="int64"))
            handles.append(self.pipe.add_request(self._next_id, ids, config))
            self._next_id += 1
        while self.pipe.has_non_finished_requests():
            self.pipe.step()
        out = []
        for handle in handles:
            o = handle.read_all()[0]
            ids = list(o.generated_ids)
            out.append(Generation(ids, list(o.generated_log_probs), "stop" if ids and ids[-1] in stops else "length"))
        return out


def openvino_setup(model: str, log=say) -> tuple[Path, dict[str, str]]:
    """The OpenVINO export environment's python and the model exported to int8 OpenVINO IR (both made on
    first use by looprl.backends.openvino, then reused); raises RuntimeError with the reason when the
    install or the export fails."""
    python = setup_openvino_venv(OPENVINO_VENV, log=log)
    return python, {"model_dir": str(export_openvino(model, "int8", venv=OPENVINO_VENV, log=log))}


# ------------------------------------------------------------------ one engine (a child)


def build_engine(name: str, spec: dict[str, Any]) -> Any:
    """The engine `name` as a PolicyBackend-shaped sampler of the demo's model."""
    engine = ENGINES[name]
    if name.startswith("openvino"):
        stops = tuple(spec["sampling"]["stop_token_ids"])
        return OpenVINOSampler(
            spec["model_dir"], prefix_caching=engine.prefix_caching == "on", concurrency=spec["concurrency"], stop_token_ids=stops, seed=spec["seed"]
        )
    cfg = demo_config(spec)
    Path(cfg.run_dir).mkdir(parents=True, exist_ok=True)  # the managed server's log goes there, as in training
    if name.startswith("vllm"):
        import functools

        from looprl.backends import vllm as vllm_module
        from looprl.build import build_sampling_backend

        if engine.prefix_caching == "off":  # the server exactly as training starts it, plus one switch
            vllm_module.start_server = functools.partial(vllm_module.start_server, extra_args=["--no-enable-prefix-caching"])
        return build_sampling_backend(replace_rollout(cfg, backend="vllm"))
    if name == "transformers":
        from looprl.build import build_policy

        return build_policy(cfg)
    from looprl.backends.llamacpp import LlamaCppBackend

    tensor_type = name.split("-", 1)[1]
    return LlamaCppBackend(
        cfg.model.name_or_path, adapter_path=cfg.model.adapter_path, tensor_type=tensor_type, concurrency=spec["concurrency"], seed=spec["seed"]
    )


def replace_rollout(cfg: Any, **fields: Any) -> Any:
    return cfg.model_copy(update={"rollout": cfg.rollout.model_copy(update=fields)})


def replay(backend: Any, episodes: list[dict[str, Any]], sampling: Any, concurrency: int) -> list[list[Any]]:
    """Every episode's turns through `backend` as the collector drives it (module docstring); the generations per episode and turn."""
    out: list[list[Any]] = [[None] * len(ep["turns"]) for ep in episodes]
    if backend.concurrent_requests:

        def episode(e: int) -> None:
            for t, turn in enumerate(episodes[e]["turns"]):
                out[e][t] = backend.generate([turn["prompt"]], replace(sampling, max_new_tokens=turn["max_new_tokens"]))[0]

        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(episodes)))) as pool:
            list(pool.map(episode, range(len(episodes))))
        return out
    for t in range(max(len(ep["turns"]) for ep in episodes)):
        by_budget: dict[int, list[int]] = {}
        for e, ep in enumerate(episodes):
            if t < len(ep["turns"]):
                by_budget.setdefault(ep["turns"][t]["max_new_tokens"], []).append(e)
        for budget, group in by_budget.items():
            for i in range(0, len(group), concurrency):
                chunk = group[i : i + concurrency]
                gens = backend.generate([episodes[e]["turns"][t]["prompt"] for e in chunk], replace(sampling, max_new_tokens=budget))
                for e, g in zip(chunk, gens):
                    out[e][t] = g
    return out


def run_engine(spec: dict[str, Any]) -> dict[str, Any]:
    """Start the engine, time its first token, replay the prompts; the numbers and the generations."""
    from importlib import metadata

    from looprl.backends.base import SamplingParams

    name, prompts = spec["engine"], json.loads(Path(spec["prompts"]).read_text())
    episodes, s = prompts["episodes"], prompts["sampling"]
    spec = {**spec, "sampling": s}
    versions = {}
    for package in ENGINES[name].packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    if name.startswith("vllm"):  # the server's own environment
        from looprl.backends.vllm import default_vllm_venv

        for dist in metadata.distributions(path=[str(p) for p in default_vllm_venv().glob("lib/python*/site-packages")]):
            if dist.metadata["Name"] in ("vllm", "vllm-cpu", "torch", "transformers"):
                versions[dist.metadata["Name"]] = dist.version
    try:
        say(f"{name}: starting")
        t0 = time.perf_counter()
        backend = build_engine(name, spec)
    except ImportError as exc:
        return {"engine": name, "available": False, "reason": f"{type(exc).__name__}: {exc}"}
    one = SamplingParams(temperature=s["temperature"], max_new_tokens=1, stop_token_ids=tuple(s["stop_token_ids"]))
    first = episodes[0]["turns"][0]["prompt"]
    probe = first[-8:]  # the end of a prompt: no prefix shared with the prompts, which open with the system turn
    backend.generate([probe], one)
    startup_s = time.perf_counter() - t0
    backend.generate([probe], replace(one, max_new_tokens=8))  # warm-up
    say(f"{name}: started in {startup_s:.1f} s; time to first token")
    pair = next((ep["turns"][:2] for ep in episodes if len(ep["turns"]) > 1), episodes[0]["turns"][:1] * 2)
    ttft = {}
    for label, turn in zip(("first_turn", "later_turn"), pair):
        t1 = time.perf_counter()
        backend.generate([turn["prompt"]], one)
        ttft[label] = time.perf_counter() - t1
    say(f"{name}: replaying {sum(len(ep['turns']) for ep in episodes)} requests of {len(episodes)} episodes")
    sampling = SamplingParams(temperature=s["temperature"], top_p=s["top_p"], top_k=s["top_k"], stop_token_ids=tuple(s["stop_token_ids"]))
    cpu0, t2 = process_tree_cpu_s(), time.perf_counter()
    gens = replay(backend, episodes, sampling, spec["concurrency"])
    wall, cpu = time.perf_counter() - t2, process_tree_cpu_s() - cpu0
    requests = [
        {"episode": e, "turn": t, "token_ids": list(map(int, g.token_ids)), "logprobs": list(map(float, g.logprobs)), "finish_reason": g.finish_reason}
        for e, row in enumerate(gens)
        for t, g in enumerate(row)
    ]
    server_log = backend.server.log_path if name.startswith("vllm") else None  # what vLLM chose is in its server's log
    return {
        "engine": name,
        "available": True,
        "versions": versions,
        "startup_s": startup_s,
        "ttft_s": ttft,
        "ttft_prompt_tokens": {"first_turn": len(pair[0]["prompt"]), "later_turn": len(pair[1]["prompt"])},
        "wall_s": wall,
        "cpu_s": cpu,
        "requests": requests,
        "prefix_caching_reported": _vllm_prefix_caching(Path(server_log)) if server_log else None,
    }


def _vllm_prefix_caching(log: Path) -> bool | None:
    """What the vLLM server's engine config line says of prefix caching (None: not found)."""
    import re

    found = re.findall(r"enable_prefix_caching=(True|False)", log.read_text(errors="replace")) if log.is_file() else []
    return found[-1] == "True" if found else None


# ------------------------------------------------------------------ the trainer's logprobs (a child)


def score(spec: dict[str, Any]) -> dict[str, Any]:
    """The trainer's fp32 logprobs of each engine's sampled tokens against the engine's own."""
    import torch

    from looprl.backends.hf import pad_token_batch
    from looprl.build import build_policy

    cfg = demo_config({**spec, "overrides": [*spec["overrides"], "model.dtype=float32"]})
    policy = build_policy(cfg)
    episodes = json.loads(Path(spec["prompts"]).read_text())["episodes"]
    gaps, temperature = {}, policy.policy_temperature
    for name, path in spec["outputs"].items():
        policy.policy_temperature = 1.0 if ENGINES[name].raw_logprobs else temperature  # compare like with like (EngineSpec.raw_logprobs)
        requests = [r for r in json.loads(Path(path).read_text())["requests"] if r["token_ids"]]
        if spec["gap_requests"] and len(requests) > spec["gap_requests"]:
            step = len(requests) / spec["gap_requests"]
            requests = [requests[int(i * step)] for i in range(spec["gap_requests"])]
        say(f"{name}: trainer logprobs of {len(requests)} requests")
        diffs = []
        for i in range(0, len(requests), 4):
            batch = requests[i : i + 4]
            seqs = [episodes[r["episode"]]["turns"][r["turn"]]["prompt"] + r["token_ids"] for r in batch]
            ids, mask = pad_token_batch(seqs, policy.pad_token_id, side="right")
            with torch.no_grad():
                lp = policy.token_logprobs(ids, mask, grad=False, chunk_size=cfg.trainer.logprob_chunk_size)
            for row, seq, r in zip(lp, seqs, batch):
                n = len(r["token_ids"])
                diffs.append(row[len(seq) - n : len(seq)] - torch.tensor(r["logprobs"]))
        d = torch.cat(diffs).double()
        ratio = d.exp()
        gaps[name] = {
            "policy_temperature": policy.policy_temperature,
            "requests": len(requests),
            "tokens": int(d.numel()),
            "mean_abs": float(d.abs().mean()),
            "max_abs": float(d.abs().max()),
            "ratio_mean": float(ratio.mean()),
            "ratio_max": float(ratio.max()),
        }
    return gaps


# ------------------------------------------------------------------ the parent


def _run_child(mode: str, spec: dict[str, Any], workdir: Path, python: Path | str = sys.executable) -> tuple[dict[str, Any], float]:
    """Run `mode` of this file in a subprocess with `python`; its JSON answer and the peak RSS (MiB) of its process tree."""
    spec_path, out_path = workdir / f"{mode}-{spec.get('engine', mode)}.spec.json", workdir / f"{mode}-{spec.get('engine', mode)}.json"
    spec_path.write_text(json.dumps(spec))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    rc, peak_mib = run_with_peak_rss([str(python), __file__, "--child", mode, "--child-spec", str(spec_path), "--child-out", str(out_path)], env)
    if rc != 0 or not out_path.is_file():
        raise RuntimeError(f"exit {rc} (its output is above)")
    return json.loads(out_path.read_text()), peak_mib


def unavailable(name: str) -> str | None:
    """Why engine `name` cannot run here, from what can be checked before starting it; None when it may."""
    import importlib.util

    engine = ENGINES[name]
    if engine.venv is None and importlib.util.find_spec(engine.module) is None:
        return f"no module {engine.module} here"
    if name.startswith("vllm"):
        from looprl.backends.vllm import default_vllm_venv, vllm_ready

        if not vllm_ready():
            return f"no vLLM environment at {default_vllm_venv()} (`looprl models setup-vllm`)"
    return None


def cached_prefixes(episodes: list[dict[str, Any]]) -> dict[tuple[int, int], int]:
    """Per (episode, turn): the longest prefix its prompt shares with a prompt sent before it, turn by turn
    (every earlier turn, and this turn's earlier episodes): what an ideal prefix cache would hold. The K
    episodes of a task share their first prompt; a later turn extends its episode's previous prompt."""
    seen: set[tuple[int, int]] = set()  # (length, running hash) of every prefix of an earlier prompt
    out = {}
    for t in range(max(len(ep["turns"]) for ep in episodes)):
        for e, ep in enumerate(episodes):
            if t >= len(ep["turns"]):
                continue
            h, hashes = 0, []
            for token in ep["turns"][t]["prompt"]:
                h = hash((h, token))
                hashes.append((len(hashes) + 1, h))
            out[(e, t)] = max((n for n, x in hashes if (n, x) in seen), default=0)
            seen.update(hashes)
    return out


def request_flops(shape: dict[str, int], episodes: list[dict[str, Any]], requests: list[dict[str, Any]]) -> float:
    """Useful FLOPs of the replay (module docstring): each request's forward over prompt + completion, less
    the forward over the prefix a prefix cache would hold (`cached_prefixes`)."""
    cached_len = cached_prefixes(episodes)
    done, cached = [], []
    for r in requests:
        done.append((len(episodes[r["episode"]]["turns"][r["turn"]]["prompt"]) + len(r["token_ids"]), len(r["token_ids"])))
        cached.append((cached_len[(r["episode"], r["turn"])], 0))
    return useful_flops(shape, done, [], 0)["sampling"] - useful_flops(shape, cached, [], 0)["sampling"]


def summarize(row: dict[str, Any], episodes: list[dict[str, Any]], shape: dict[str, int], peak: dict[str, float]) -> dict[str, Any]:
    """An engine child's answer as a result row: rates, utilization, prefix caching; its generations left out."""
    requests = row.pop("requests")
    generated = sum(len(r["token_ids"]) for r in requests)
    prompt = sum(len(episodes[r["episode"]]["turns"][r["turn"]]["prompt"]) for r in requests)
    flops = request_flops(shape, episodes, requests)
    engine = ENGINES[row["engine"]]
    judged = max(peak.values()) if engine.peak == "best" else peak[engine.peak]
    reported = row.pop("prefix_caching_reported")
    caching = {"on": True, "off": False, "none": None}.get(engine.prefix_caching, reported)  # "default": what the engine said
    return {
        **row,
        "requests": len(requests),
        "stopped_fraction": sum(r["finish_reason"] == "stop" for r in requests) / max(len(requests), 1),
        "generated_tokens": generated,
        "prompt_tokens": prompt,
        "generated_tokens_per_s": generated / row["wall_s"],
        "prompt_tokens_per_s": prompt / row["wall_s"],
        "cores_busy": row["cpu_s"] / row["wall_s"],
        "useful_gflop": flops / 1e9,
        "utilization": {**{dt: flops / (row["wall_s"] * p) for dt, p in peak.items()}, "judged": flops / (row["wall_s"] * judged)},
        "utilization_peak": engine.peak,
        "prefix_caching": caching,
        "logprobs": "raw: log-softmax(logits), before the temperature" if engine.raw_logprobs else "the sampling policy's: log-softmax(logits / T)",
    }


def verdict(rows: list[dict[str, Any]], ratios: dict[str, float] | None) -> dict[str, Any]:
    """Which of the issue's goals some engine reached: >= 3x vllm's generated tokens/s in this run (only
    with ratios, i.e. on an idle machine), >= 50% of the compute limit of its cores."""
    fast = sorted(name for name, x in (ratios or {}).items() if not name.startswith("vllm") and x >= 3.0)
    dense = sorted(r["engine"] for r in rows if r.get("available") and r["utilization"]["judged"] >= 0.5)
    reached = [text for text, hit in (("3x vllm's generated tokens/s", fast), ("50% of the compute limit", dense)) if hit]
    return {"three_x_vllm": fast, "half_compute_limit": dense, "reached": " and ".join(reached) if reached else None}


def _table(result: dict[str, Any]) -> str:
    cpu, ratios = result["machine"]["cpu"], result["ratios_vs_vllm"] or {}
    cols = [
        ("gen tok/s", lambda r: f"{r['generated_tokens_per_s']:.1f}"),
        ("x vllm", lambda r: f"{ratios[r['engine']]:.2f}" if r["engine"] in ratios else "-"),
        ("prompt tok/s", lambda r: f"{r['prompt_tokens_per_s']:.0f}"),
        ("TTFT first / later s", lambda r: f"{r['ttft_s']['first_turn']:.2f} / {r['ttft_s']['later_turn']:.2f}"),
        ("wall s", lambda r: f"{r['wall_s']:.1f}"),
        ("startup s", lambda r: f"{r['startup_s']:.1f}"),
        ("peak RSS MiB", lambda r: f"{r['peak_rss_mib']:.0f}"),
        ("utilization (peak)", lambda r: f"{r['utilization']['judged']:.1%} ({r['utilization_peak']})"),
        ("logprob gap mean / max", lambda r: f"{r['logprob_gap']['mean_abs']:.2e} / {r['logprob_gap']['max_abs']:.2e}" if r.get("logprob_gap") else "-"),
        ("ratio mean / max", lambda r: f"{r['logprob_gap']['ratio_mean']:.3f} / {r['logprob_gap']['ratio_max']:.2f}" if r.get("logprob_gap") else "-"),
        ("gap at T", lambda r: f"{r['logprob_gap']['policy_temperature']:g}" if r.get("logprob_gap") else "-"),
        ("prefix cache", lambda r: {True: "on", False: "off", None: "-"}[r["prefix_caching"]]),
    ]
    head = "| engine | " + " | ".join(c for c, _ in cols) + " |\n|---|" + "---|" * len(cols) + "\n"
    body = ""
    for r in result["engines"]:
        if r["available"]:
            body += f"| {r['engine']} | " + " | ".join(fn(r) for _, fn in cols) + " |\n"
        else:
            body += f"| {r['engine']} | not available: {r['reason']} |" + " |" * (len(cols) - 1) + "\n"
    s, goal = result["setting"], result["goal"]
    return (
        f"# bench_sampler\n\n`{result['command']}`\n\n"
        f"{cpu['model']}, {cpu['cores']} cores, flags {', '.join(cpu['flags']) or 'unknown'}; torch threads {result['machine']['torch_threads']}; "
        f"peak {result['peak_gflops']['fp32']:.0f} GFLOP/s fp32, {result['peak_gflops']['bf16']:.0f} bf16 (matmul, measured in this run); "
        f"load average {result['load_average']['start'][0]:.2f} at start, {result['load_average']['end'][0]:.2f} at end.\n\n"
        f"{s['episodes']} episodes, {s['requests']} requests ({s['prompt_tokens_mean']:.0f} prompt tokens on average, at most "
        f"{s['prompt_tokens_max']}), concurrency {s['concurrency']} ({s['in_flight']} episodes in flight), temperature {s['temperature']}.\n\n"
        + head
        + body
        + (f"\nNo ratios: {result['ratios_refused']}\n" if result["ratios_refused"] else "")
        + f"\nGoal (>= 3x vllm's generated tokens/s, or >= 50% of the compute limit): **{goal['reached'] or 'not reached'}**"
        + (f" ({', '.join(goal['three_x_vllm'] + goal['half_compute_limit'])})\n" if goal["reached"] else "\n")
    )


def load_prompts(args: argparse.Namespace, spec: dict[str, Any], workdir: Path) -> Path:
    """The cached prompts of this setting under --out, recorded first when missing, stale or --record."""
    path = args.out / "prompts.json"
    if path.is_file() and not args.record and json.loads(path.read_text()).get("key") == spec["key"]:
        say(f"prompts: reusing {path}")
        return path
    say(f"prompts: recording {spec['tasks']} tasks x {spec['k']} episodes of the demo's setting with the trainer's sampler")
    recorded, _ = _run_child("record", spec, workdir)
    path.write_text(json.dumps(recorded) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2", help="a built-in model name (looprl.backends.resolve_model) or a path")
    p.add_argument("--model-path", default=None, help="a model folder to use instead of --model (the tiny model for a smoke run)")
    p.add_argument("--adapter", default=None, help="a peft adapter every engine samples with (e.g. the demo's SFT-GT warm-up); default the base model")
    p.add_argument("--engines", nargs="+", default=None, help=f"which engines, in order (default: all; known: {', '.join(ENGINES)})")
    p.add_argument("--concurrency", type=int, default=None, help="episodes in flight at most (default: the demo's rollout.concurrency)")
    p.add_argument("--tasks", type=int, default=4, help="tasks whose episodes are recorded (the demo's tasks per iteration: 4)")
    p.add_argument("--k", type=int, default=4, help="episodes per task (the demo's K: 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], help="a TrainConfig override KEY=VALUE of the demo's config (repeatable)")
    p.add_argument("--record", action="store_true", help="record the prompts again even when --out holds them for this setting")
    p.add_argument("--gap-requests", type=int, default=32, help="requests per engine whose logprobs the trainer recomputes (0: all)")
    p.add_argument("--peak-seconds", type=float, default=2.0, help="seconds per dtype of the matmul peak microbenchmark")
    p.add_argument("--peak-size", type=int, default=1024, help="matrix size of the peak microbenchmark")
    p.add_argument("--allow-load", action="store_true", help="write ratios even when the machine was not idle at the start")
    p.add_argument("--wait-idle", type=float, default=0.0, help="seconds to wait at most for the 1-minute load average to fall to half the cores")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--child", choices=["record", "engine", "score"], help=argparse.SUPPRESS)
    p.add_argument("--child-spec", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        spec = json.loads(args.child_spec.read_text())
        answer = {"record": record, "engine": run_engine, "score": score}[args.child](spec)
        args.child_out.write_text(json.dumps(answer))
        return 0

    import torch

    from looprl.backends import resolve_model
    from looprl.utils.hardware import cpu_info

    cpu, cores = cpu_info(), os.cpu_count() or 1
    engines = args.engines or default_engines(cpu["flags"])
    unknown = [e for e in engines if e not in ENGINES]
    if unknown:
        p.error(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
    load_start = wait_for_idle(cores, args.wait_idle)
    model = str(args.model_path or resolve_model(args.model))
    args.out.mkdir(parents=True, exist_ok=True)
    base = {"model": model, "seed": args.seed, "adapter": args.adapter, "overrides": args.overrides, "tasks": args.tasks, "k": args.k}
    base["key"] = json.dumps(base, sort_keys=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-sampler-") as tmp:
        workdir = Path(tmp)
        prompts_path = load_prompts(args, {**base, "run_dir": str(workdir / "record")}, workdir)
        prompts = json.loads(prompts_path.read_text())
        concurrency = args.concurrency or prompts["concurrency"]
        episodes = prompts["episodes"]
        say("peak FLOP/s: matmul microbenchmark")
        peak, shape = peak_flops(args.peak_seconds, args.peak_size), model_shape(model)
        outputs = {}
        for name in engines:
            reason = unavailable(name)
            python: Path | str = sys.executable
            extra: dict[str, Any] = {}
            if reason is None and ENGINES[name].venv is not None:
                try:
                    python, extra = openvino_setup(model if not args.adapter else _merged(model, args.adapter, workdir))
                except RuntimeError as exc:
                    reason = str(exc)
            if reason is not None:
                say(f"{name}: not available: {reason}")
                rows.append({"engine": name, "available": False, "reason": reason})
                continue
            spec = {**base, **extra, "engine": name, "prompts": str(prompts_path), "concurrency": concurrency, "run_dir": str(workdir / name)}
            try:
                row, rss = _run_child("engine", spec, workdir, python)
            except RuntimeError as exc:
                row, rss = {"engine": name, "available": False, "reason": f"failed: {exc}"}, 0.0
            if not row["available"]:
                say(f"{name}: not available: {row['reason']}")
                rows.append(row)
                continue
            outputs[name] = str(workdir / f"engine-{name}.json")
            rows.append({**summarize(row, episodes, shape, peak), "peak_rss_mib": rss})
            say(f"{name}: {rows[-1]['generated_tokens_per_s']:.1f} generated tokens/s, wall {rows[-1]['wall_s']:.1f} s")
        if outputs:
            say(f"logprob gap: the trainer's fp32 logprobs of {len(outputs)} engines' samples")
            gaps, _ = _run_child(
                "score",
                {**base, "prompts": str(prompts_path), "outputs": outputs, "gap_requests": args.gap_requests, "run_dir": str(workdir / "score")},
                workdir,
            )
            for row in rows:
                if row["engine"] in gaps:
                    row["logprob_gap"] = gaps[row["engine"]]
    load_end = os.getloadavg()
    loaded = not machine_is_idle(load_start[0], cores)
    by_name = {r["engine"]: r for r in rows if r["available"]}
    ratios, refused = None, None
    if "vllm" not in by_name:
        refused = "no vllm row in this run (the baseline): " + next((r["reason"] for r in rows if r["engine"] == "vllm"), "not among --engines")
    elif loaded and not args.allow_load:
        refused = (
            f"load average {load_start[0]:.2f} at start > {cores / 2:g} (half of {cores} cores): other work shared the machine "
            "(rerun idle, with --wait-idle, or pass --allow-load)"
        )
    else:
        ratios = {name: r["generated_tokens_per_s"] / by_name["vllm"]["generated_tokens_per_s"] for name, r in by_name.items()}
    lengths = [len(t["prompt"]) for ep in episodes for t in ep["turns"]]
    result = {
        "command": "python benchmarks/bench_sampler.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "model": args.model_path or args.model,
        "setting": {
            "episodes": len(episodes),
            "requests": len(lengths),
            "prompt_tokens_mean": sum(lengths) / len(lengths),
            "prompt_tokens_max": max(lengths),
            "concurrency": concurrency,
            "in_flight": min(concurrency, len(episodes)),
            "temperature": prompts["sampling"]["temperature"],
            "adapter": args.adapter,
            "overrides": args.overrides,
            "prompts": str(prompts_path),
        },
        "machine": {"cpu": cpu, "torch_threads": torch.get_num_threads()},
        "load_average": {"start": list(load_start), "end": list(load_end), "loaded_at_start": loaded, "allowed": bool(loaded and args.allow_load)},
        "peak_gflops": {k: v / 1e9 for k, v in peak.items()},
        "baseline": "vllm",
        "engines": rows,
        "ratios_vs_vllm": ratios,
        "ratios_refused": refused,
    }
    result["goal"] = verdict(rows, ratios)
    (args.out / "bench_sampler.json").write_text(json.dumps(result, indent=2) + "\n")
    table = _table(result)
    (args.out / "bench_sampler.md").write_text(table)
    print(table)
    return 0


def _merged(model: str, adapter: str, workdir: Path) -> str:
    """`adapter` merged into `model`'s weights, for engines that load one set of weights (OpenVINO's export)."""
    from looprl.backends.vllm import merge_adapter

    return str(merge_adapter(model, adapter, workdir / "merged"))


if __name__ == "__main__":
    sys.exit(main())
