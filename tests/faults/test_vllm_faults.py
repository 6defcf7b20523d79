"""A managed vLLM server that fails after it started. The cause of `looprl train --config
configs/tiny-cpu.yaml --set rollout.backend=vllm` ending in HTTP 500 ("EngineCore encountered an
issue") on its first request: the tiny model's attention head size (96 / 4 = 24) is not one vLLM's
CPU attention kernels have ("Unsupported CPU attention configuration: head_dim=24" in the server's
log); the server starts, then dies on the first forward pass. Preflight now refuses that
configuration naming the field; a managed server's log is kept in the run folder and named in the
error. `FAULT_CASES` are this module's rows for the fault report."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

import looprl.backends.vllm as vllm

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "tiny-cpu.yaml"

FAULT_CASES = [
    ("vLLM on CPU with an unsupported head size", "test_tiny_recipe_on_cpu_vllm_is_refused_naming_the_field", "exit 2 at preflight"),
    ("vLLM server HTTP 500 after start", "test_a_server_error_names_the_servers_log", "one-line error naming the log"),
]


def test_tiny_recipe_on_cpu_vllm_is_refused_naming_the_field(tiny_model_dir, tmp_path, monkeypatch):
    from looprl.cli import app

    monkeypatch.setattr(vllm, "_cpu_only", lambda: True)
    run = tmp_path / "run"
    args = ["train", "--config", str(RECIPE), "--no-progress"]
    for s in (f"model.name_or_path={tiny_model_dir}", f"run_dir={run}", "rollout.backend=vllm"):
        args += ["--set", s]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    assert "rollout.backend='vllm'" in res.output and "head size 24" in res.output and "model.name_or_path" in res.output, res.output
    assert not run.exists()


def test_supported_head_sizes_and_a_given_server_pass(vllm_model_dir, tiny_model_dir, monkeypatch):
    from looprl.config import TrainConfig, load_config
    from looprl.preflight import check_vllm_sampler

    monkeypatch.setattr(vllm, "_cpu_only", lambda: True)
    check_vllm_sampler(load_config(TrainConfig, RECIPE, [f"model.name_or_path={vllm_model_dir}", "rollout.backend=vllm"]))  # head size 32
    given = load_config(TrainConfig, RECIPE, [f"model.name_or_path={tiny_model_dir}", "rollout.backend=vllm", "rollout.vllm_url=http://127.0.0.1:1"])
    check_vllm_sampler(given)  # a server started elsewhere: its machine, not this one, decides
    monkeypatch.setattr(vllm, "_cpu_only", lambda: False)
    check_vllm_sampler(load_config(TrainConfig, RECIPE, [f"model.name_or_path={tiny_model_dir}", "rollout.backend=vllm"]))  # GPU kernels take 24


def test_a_server_error_names_the_servers_log(tmp_path):
    backend = object.__new__(vllm.VLLMBackend)  # no server process: the HTTP side alone
    body = '{"error":{"message":"EngineCore encountered an issue. See stack trace (above) for the root cause.","code":500}}'
    backend.base_url = "http://vllm"
    backend._http = httpx.Client(base_url=backend.base_url, transport=httpx.MockTransport(lambda request: httpx.Response(500, text=body)))
    exited = type("Exited", (), {"poll": lambda self: 1, "returncode": 1})()  # the server process, already gone
    backend.server = vllm.VLLMServer(process=exited, url=backend.base_url, model="m", log_path=tmp_path / "run" / vllm.VLLM_SERVER_LOG)
    with pytest.raises(RuntimeError, match=r"HTTP 500.*EngineCore.*the server's log: .*run/vllm-server\.log"):
        backend._post_or_get("POST", "/v1/completions", {})


def test_a_training_run_keeps_the_managed_servers_log_in_its_folder(tiny_model_dir, tmp_path, monkeypatch):
    from looprl.build import build_sampling_backend
    from looprl.config import TrainConfig, load_config

    seen = {}
    monkeypatch.setattr(vllm, "VLLMBackend", lambda name, **kwargs: seen.update(kwargs) or "backend")
    cfg = load_config(TrainConfig, RECIPE, [f"model.name_or_path={tiny_model_dir}", f"run_dir={tmp_path}", "rollout.backend=vllm"])
    assert build_sampling_backend(cfg, policy=None) == "backend"
    assert seen["server_kwargs"]["log_path"] == tmp_path / vllm.VLLM_SERVER_LOG
