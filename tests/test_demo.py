"""`looprl demo` end to end on the tiny model (the real demo uses SmolLM2 and about 30 minutes)."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from typer.testing import CliRunner

from looprl.backends.vllm import vllm_ready
from looprl.cli import app

TINY_RUN = (  # a demo of one iteration, one task, K=2, one-turn episodes of 8 tokens
    "train.trainer.iterations=1",
    "train.trainer.tasks_per_iteration=1",
    "train.trainer.rollouts_per_task=2",
    "train.env.max_turns=1",
    "train.env.eval_max_turns=1",
    "train.rollout.sampling.max_new_tokens=8",
)


def sets(*overrides: str) -> list[str]:
    """`--set A --set B ...` for the CLI."""
    return [arg for override in overrides for arg in ("--set", override)]


def test_demo_runs_every_stage_then_resumes_without_redoing_work(tiny_model_dir, tmp_path):
    run_dir = tmp_path / "demo"
    args = [
        "demo",
        "--run-dir",
        str(run_dir),
        "--set",
        f"train.model.name_or_path={tiny_model_dir}",
        "--set",
        "dev_tasks=1",
        "--set",
        "heldout_tasks=2",
        "--set",
        "sft_epochs=1",
        "--set",
        "sft_instances=1",
        "--set",
        "sampler=transformers",
        *sets(*TINY_RUN),
    ]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    state = json.loads((run_dir / "demo_state.json").read_text())
    assert set(state) == {"model", "before", "sft", "warmup", "loop", "after", "report"}
    whens = ("before", "warmup", "after")
    for when in whens:
        for suffix in ("heldout", "dev"):
            assert (run_dir / f"eval_{when}_{suffix}" / "rollouts.jsonl").is_file(), (when, suffix)
    for part in ("loop/metrics.jsonl", "sft/metrics.jsonl", "report.html"):
        assert (run_dir / part).is_file(), part
    result = json.loads((run_dir / "before_after.json").read_text())
    assert {"heldout", "dev", "headline", "loop"} <= set(result) and result["loop"]["iterations"] == 1
    # the warm-up's adapter was evaluated on its own: three columns, before / after SFT-GT / after LOOP
    for suffix in ("heldout", "dev"):
        assert set(result[suffix]["reward_mean"]) == set(whens)
        assert [r["path"] for r in result[suffix]["runs"]] == [str(run_dir / f"eval_{w}_{suffix}") for w in whens]
        assert all(len(m["values"]) == 3 for m in result[suffix]["metrics"])
        assert len(result["headline"][suffix]["tgc"]) == 3
    assert result["headline"]["heldout"]["tasks"] == 2 and result["headline"]["dev"]["tasks"] == 1
    # both sets are sampled in one pass, and each eval folder holds its own set's rollouts, split and summary
    for when in whens:
        split_of = {}
        for suffix in ("heldout", "dev"):
            rows = [json.loads(line) for line in open(run_dir / f"eval_{when}_{suffix}" / "rollouts.jsonl")]
            summary = json.loads((run_dir / f"eval_{when}_{suffix}" / "summary.json").read_text())
            assert {r["split"] for r in rows} == {summary["split"]} and summary["n_tasks"] == len(rows)
            assert summary["rollout"]["shared_with"] == [{"heldout": "dev", "dev": "heldout"}[suffix]]
            split_of[suffix] = {r["task_id"] for r in rows}
        assert len(split_of["heldout"]) == 2 and len(split_of["dev"]) == 1 and not split_of["heldout"] & split_of["dev"]
        assert summary["split"] == "dev" and all(t.endswith(tuple(f"_{n}" for n in range(100001, 100100))) for t in split_of["heldout"])
    adapter = {w: json.loads((run_dir / f"eval_{w}_heldout" / "run.json").read_text())["adapter"] for w in whens}
    assert adapter["before"] is None and adapter["warmup"].startswith(str(run_dir / "sft"))
    assert adapter["after"].startswith(str(run_dir / "loop"))
    method = {w: json.loads((run_dir / f"eval_{w}_dev" / "run.json").read_text())["method"] for w in whens}
    assert method == {"before": None, "warmup": "sft-gt", "after": "loop"}  # what the report's leaderboard shows
    # the warm-up trained on instance 1 of the demo's training scenarios, difficulty 1 (sft_difficulties)
    from looprl.config import DEMO_SCENARIOS
    from looprl.world import load_tasks

    sft_ids = [json.loads(line)["task_id"] for line in open(run_dir / "sft" / "fixed_data.jsonl")]
    assert sft_ids and sorted(sft_ids) == sorted(t.id for t in load_tasks("train", difficulties=[1], instances=1, scenarios=list(DEMO_SCENARIOS)))
    # LOOP samples at the demo's temperature and trains that policy, on fresh instances after the warm-up's;
    # the warm-up fits its chats at temperature 1
    loop_cfg, sft_cfg = (yaml.safe_load((run_dir / part / "config.yaml").read_text()) for part in ("loop", "sft"))
    assert loop_cfg["rollout"]["sampling"]["temperature"] == 0.7 and sft_cfg["trainer"]["method"] == "sft-gt"
    assert loop_cfg["tasks"]["instance_start"] == 2 and loop_cfg["tasks"]["fresh_instances"] is True
    loop_ids = {json.loads(line)["task_id"] for line in open(run_dir / "loop" / "rollouts" / "iter_000001.jsonl")}
    assert all(int(tid.rsplit("_", 1)[1]) >= 2 for tid in loop_ids)  # never an instance the warm-up saw
    from looprl.config import TrainConfig
    from looprl.training.trainer import policy_temperature

    assert policy_temperature(TrainConfig(**loop_cfg)) == 0.7 and policy_temperature(TrainConfig(**sft_cfg)) == 1.0
    heldout = [json.loads(line) for line in open(run_dir / "eval_before_heldout" / "rollouts.jsonl")]
    assert [r["split"] for r in heldout] == ["heldout", "heldout"]
    assert all(int(r["task_id"].rsplit("_", 1)[1]) >= 100_001 and r["task_id"].rsplit("_", 1)[0] in DEMO_SCENARIOS for r in heldout)
    flat = " ".join(first.output.split())
    assert "before vs after training" in flat and "LOOP: 1 iterations" in flat
    assert "held-out instances of the training scenarios (new instances of known kinds of work)" in flat
    assert "dev scenarios (new kinds of work" in flat and "what training changed" in flat
    assert "warm-up = after SFT-GT, before LOOP" in flat

    second = runner.invoke(app, args)  # everything done: nothing is redone, the table is printed again
    assert second.exit_code == 0, second.output
    assert "already done" in second.output and "before vs after training" in second.output
    assert json.loads((run_dir / "demo_state.json").read_text())["loop"] == state["loop"]

    other = runner.invoke(app, args[:-2] + ["--set", "train.rollout.sampling.max_new_tokens=9"])
    assert other.exit_code == 2 and "another configuration" in other.output


@pytest.mark.slow
@pytest.mark.skipif(not vllm_ready() and not os.environ.get("CI"), reason="no vLLM environment; `looprl models setup-vllm` (CI builds it)")
def test_demo_samples_every_stage_from_one_vllm_server(vllm_model_dir, tmp_path):
    model = vllm_model_dir
    run_dir = tmp_path / "demo"
    args = [
        "demo",
        "--run-dir",
        str(run_dir),
        "--set",
        f"train.model.name_or_path={model}",
        "--set",
        "dev_tasks=0",
        "--set",
        "heldout_tasks=1",
        "--set",
        "sampler=vllm",
        "--set",
        "sft_epochs=0",
        *sets(*TINY_RUN),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "rollouts sampled with: vllm" in result.output
    log = (run_dir / "vllm_server.log").read_text()
    assert log.count("POST /v1/completions") >= 4  # before, LOOP's 2 rollouts, after: all from the demo's server
    # the trained adapter was merged into the server's weights (train.rollout.adapter_sync=merged), once
    # after LOOP's update and once for the after-evaluation; never loaded as a LoRA
    assert log.count("POST /collective_rpc HTTP") >= 2 and "POST /v1/load_lora_adapter HTTP" not in log
    assert json.loads((run_dir / "before_after.json").read_text())["loop"]["rollouts"] == 2


@pytest.mark.parametrize(
    "instances, passes, per_iteration, expected",
    [
        (20, 1, 24, (5, 24)),  # the default: 120 chats, 24 an iteration
        (3, 2, 24, (2, 18)),  # 36 chats: two even iterations, not 2 x 24
        (1, 1, 24, (1, 6)),
    ],
)
def test_warmup_splits_its_passes_into_even_iterations(instances, passes, per_iteration, expected, tmp_path):
    from looprl.config import DemoConfig
    from looprl.experiments import sft_config

    cfg = DemoConfig(sft_instances=instances, sft_epochs=passes, sft_chats_per_iteration=per_iteration)
    t = sft_config(cfg, "unused", tmp_path).trainer
    assert (t.iterations, t.tasks_per_iteration) == expected and t.method == "sft-gt"
    assert t.iterations * t.tasks_per_iteration >= instances * passes * 6


def test_an_overlapped_loop_stage_leaves_the_warmup_synchronous(tmp_path):
    """train.rollout.max_staleness applies to LOOP: the warm-up fits stored chats (nothing is sampled) and
    SFT-GT has no loss for stale rollouts, so its config keeps 0 (it raised at the first update before)."""
    from looprl.config import DemoConfig, load_config
    from looprl.experiments import sft_config

    cfg = load_config(DemoConfig, overrides=["train.rollout.max_staleness=1", "train.trainer.behaviour_weight_cap=3"])
    sft = sft_config(cfg, "unused", tmp_path)
    assert sft.rollout.max_staleness == 0 and sft.trainer.behaviour_weight_cap == 2.0 and sft.trainer.method == "sft-gt"
    assert cfg.train.rollout.max_staleness == 1  # the LOOP stage's own


def test_the_headline_table_fits_80_columns_one_line_per_set(tmp_path):
    import io

    from rich.console import Console

    from looprl.demo import EVAL_SETS, headline_table
    from looprl.trajectory import Trajectory, write_jsonl

    def eval_dir(name: str, n: int, solved: int) -> object:
        rows = [Trajectory(task_id=f"t_{i}", messages=[], reward=1.0 if i < solved else 0.0, success=i < solved) for i in range(n)]
        write_jsonl(tmp_path / name / "rollouts.jsonl", rows)
        return tmp_path / name

    # the widest cells there are: 100% solved, then none (a -100 pts step), three-digit task counts
    evals = {suffix: [eval_dir(f"{w}_{suffix}", 120, solved) for w, solved in (("b", 0), ("w", 120), ("a", 0))] for suffix in ("heldout", "dev")}
    out = io.StringIO()
    rows = headline_table(evals, Console(file=out, width=80))
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80, out.getvalue()
    body = lines[next(i for i, line in enumerate(lines) if line.startswith("┡")) + 1 : next(i for i, line in enumerate(lines) if line.startswith("└"))]
    assert len(body) == 2 and "held-out" in body[0] and "100% (100-100)" in body[0] and "-100 (-100,-100)" in body[0], out.getvalue()
    flat = " ".join(out.getvalue().split())
    assert all(what in flat for what in EVAL_SETS.values())  # what each set measures is said under the table
    assert rows["heldout"]["tgc"] == [0.0, 100.0, 0.0] and rows["dev"]["tasks"] == 120
    assert rows["heldout"]["loop_step"]["diff"] == -100.0 and rows["heldout"]["loop_step"]["separated"]


def test_the_headline_table_gives_intervals_and_a_paired_step(tmp_path):
    import io

    from rich.console import Console

    from looprl.analysis.stats import bootstrap_ci
    from looprl.demo import headline_table
    from looprl.trajectory import Trajectory, write_jsonl

    def eval_dir(name: str, solved: set[int]) -> object:
        rows = [Trajectory(task_id=f"t_{i}", messages=[], reward=float(i in solved), success=i in solved) for i in range(24)]
        write_jsonl(tmp_path / name / "rollouts.jsonl", rows)
        return tmp_path / name

    # the warm-up solves tasks 0-8, LOOP keeps those and adds 9 and 10: +2 tasks of 24 (+8 points), never worse
    evals = {"heldout": [eval_dir("b", set()), eval_dir("w", set(range(9))), eval_dir("a", set(range(11)))]}
    out = io.StringIO()
    rows = headline_table(evals, Console(file=out, width=80))
    row = rows["heldout"]
    assert row["tgc"] == [0.0, 37.5, 100 * 11 / 24]
    warm = bootstrap_ci([float(i < 9) for i in range(24)]).scaled(100)
    assert row["tgc_ci95"][1] == warm.to_list() and warm.low < 37.5 < warm.high
    step = row["loop_step"]
    assert step["diff"] == pytest.approx(100 * 2 / 24) and step["b_better"] == 2 and step["a_better"] == 0
    assert 0 <= step["ci95"][0] <= step["diff"] <= step["ci95"][1]  # only gains: the interval cannot go below 0
    assert f"38% ({warm.low:.0f}-{warm.high:.0f})" in out.getvalue() and "+8 (" in out.getvalue()


def test_a_demo_with_a_warmup_and_loop_starts_its_vllm_server_once(vllm_model_dir, tmp_path, monkeypatch):
    """Every stage that samples (evaluations before, after the warm-up and after LOOP; LOOP's rollouts)
    goes to the one server the demo started, each stage's adapter published to it (merged, the demo's
    adapter_sync); the server is started once and stopped once, at the end. A counting launcher stands
    in for vLLM: a real child process, and an HTTP side that answers every completion with the stop token."""
    import subprocess
    from pathlib import Path

    import httpx

    import looprl.backends.vllm as vllm

    starts, servers, requests, merged = [], [], [], []

    def start_server(model, **kwargs):
        starts.append(kwargs)
        servers.append(vllm.VLLMServer(subprocess.Popen(["sleep", "600"], start_new_session=True), "http://127.0.0.1:4321", model, Path(kwargs["log_path"])))
        return servers[-1]

    real_merge = vllm.merge_adapter

    def merge_adapter(base, adapter, out, **kw):
        merged.append(Path(adapter))
        return real_merge(base, adapter, out, **kw)

    def handle(request):
        body = json.loads(request.content or b"{}")
        requests.append((request.url.path, body.get("kwargs", {}).get("weights_path")))
        if request.url.path == "/v1/models":
            return httpx.Response(200, json={"data": [{"id": "base"}]})
        if request.url.path == "/v1/completions":
            choice = {"token_ids": body["stop_token_ids"][:1], "logprobs": {"token_logprobs": [-0.5]}, "finish_reason": "stop"}
            return httpx.Response(200, json={"choices": [choice]})
        return httpx.Response(200, json={})

    real_client = httpx.Client
    monkeypatch.setattr(httpx, "Client", lambda **kw: real_client(transport=httpx.MockTransport(handle), **kw))
    monkeypatch.setattr(vllm, "start_server", start_server)
    monkeypatch.setattr(vllm, "merge_adapter", merge_adapter)
    monkeypatch.setattr(vllm, "vllm_python", lambda venv=None: Path("python"))
    run_dir = tmp_path / "demo"
    args = ["demo", "--run-dir", str(run_dir), *sets(f"train.model.name_or_path={vllm_model_dir}", "dev_tasks=0", "heldout_tasks=1")]
    args += sets("sampler=vllm", "sft_epochs=1", "sft_instances=1", *TINY_RUN)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert set(json.loads((run_dir / "demo_state.json").read_text())) >= {"before", "sft", "warmup", "loop", "after"}
    assert len(starts) == 1, starts  # one server for the warm-up, LOOP and three evaluations
    assert not servers[0].alive()  # and stopped once the last stage is done
    assert starts[0]["max_model_len"] == 3072 and starts[0]["max_num_seqs"] == 64  # sized to the run: its context and concurrency
    # before (base), after the warm-up, LOOP's 2 rollouts, after: all sampled on that server
    assert sum(path == "/v1/completions" for path, _ in requests) >= 1 + 1 + 2 + 1
    # each stage's adapter was published to it: the warm-up's (for its evaluation and LOOP's start), then LOOP's
    assert any(run_dir / "sft" in a.parents for a in merged) and any(run_dir / "loop" in a.parents for a in merged), merged
    assert sum(path == "/collective_rpc" for path, _ in requests) >= len(merged)
