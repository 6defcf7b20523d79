"""`looprl report` and `looprl compare` on realistic hand-written run directories (no browser here;
test_analysis_chromium.py renders the page in a real one)."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from looprl.analysis import load_run, summarize
from looprl.analysis.compare import compare_runs
from looprl.analysis.report import render_report
from looprl.analysis.runs import RunError
from looprl.cli import app

runner = CliRunner()


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="looprl-data">(.*?)</script>', page, re.DOTALL)
    assert m, "the embedded data block is missing"
    return json.loads(m.group(1))


def test_load_run_reads_eval_and_train_layouts(sample_runs):
    base, gpt, train = (load_run(p) for p in sample_runs)
    assert (base.kind, base.method, base.model, len(base.trajectories)) == ("eval", "base", "tiny-base", 12)
    assert (gpt.model, gpt.method) == ("openai:gpt-4o", "openai")
    assert train.kind == "train" and sorted(train.evals) == [5, 10] and len(train.metrics) == 11
    assert train.source == "eval/iter_000010/rollouts.jsonl"  # the latest dev evaluation represents it


def test_load_run_errors_name_the_path_and_line(tmp_path):
    with pytest.raises(RunError, match="does not exist"):
        load_run(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no rollouts.jsonl"):
        load_run(tmp_path / "empty")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "rollouts.jsonl").write_text('{"task_id": "a", "messages": []}\nnot json\n')
    with pytest.raises(RunError, match=r"rollouts.jsonl:2: not valid JSON"):
        load_run(bad)


def test_compare_ratios(sample_runs):
    base, gpt = load_run(sample_runs[0]), load_run(sample_runs[1])
    result = compare_runs([base, gpt])
    rows = {r["key"]: r for r in result["metrics"]}
    # base solves s1_1 in both samples and s2_3 in sample 1: TGC (1/6 + 2/6) / 2 = 0.25
    assert rows["tgc"]["values"] == pytest.approx([0.25, 0.75])
    assert rows["tgc"]["ratios"] == pytest.approx([3.0])
    # 3 successful episodes of 4 turns, 9 failed ones of 3
    assert rows["behaviour/turns_per_episode"]["values"][0] == pytest.approx((4 * 3 + 3 * 9) / 12)
    assert rows["n_rollouts"]["values"] == [12, 12]
    assert rows["per_app/notes/tgc"]["values"] == pytest.approx([0.25, 0.75]) and "per_split/dev/tgc" not in rows
    assert rows["behaviour/multi_cell_turn_share"]["ratios"] == [None]  # 0 in the base run: no ratio, not inf
    assert rows["tgc_ci95"]["values"][0][0] <= 0.25 <= rows["tgc_ci95"]["values"][0][1] and rows["tgc_ci95"]["ratios"] == [None]
    # the two runs evaluated the same 6 tasks: B - A pair by pair, from each task's share solved
    from looprl.analysis.stats import paired_difference

    paired = result["paired"][0]
    per_task = [{t: v["success"] for t, v in summarize(r.trajectories)["per_task"].items()} for r in (base, gpt)]
    assert paired["n_shared"] == 6 and paired["tgc"] == paired_difference(per_task[0], per_task[1]).to_dict()
    assert paired["tgc"]["diff"] == pytest.approx(0.5) and paired["tgc"]["a_better"] + paired["tgc"]["b_better"] <= 6


def test_compare_cli_table_and_json(sample_runs, tmp_path):
    out = tmp_path / "cmp.json"
    result = runner.invoke(app, ["compare", str(sample_runs[0]), str(sample_runs[1]), "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert [r["name"] for r in parsed["runs"]] == ["base", "gpt-4o"] and json.loads(out.read_text()) == parsed
    table = runner.invoke(app, ["compare", str(sample_runs[0]), str(sample_runs[1])])
    assert table.exit_code == 0, table.output
    assert "gpt-4o / base" in table.stdout and "3.00x" in table.stdout and "give-up rate" in table.stdout
    assert "gpt-4o - base on 6 shared tasks: TGC +50.0 points, 95% CI [" in table.output
    one = runner.invoke(app, ["compare", str(sample_runs[0])])
    assert one.exit_code == 2 and "at least two runs" in one.output
    missing = runner.invoke(app, ["compare", str(sample_runs[0]), str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_report_has_every_section_and_escapes_agent_text(sample_runs, tmp_path):
    from looprl.analysis.runs import load_run

    page = render_report([load_run(p) for p in sample_runs], max_episodes=5)
    for section in ("runs", "leaderboard", "training", "behaviour", "trajectories", "roi"):
        assert f'<section id="{section}">' in page
    # Untrusted agent text never appears as markup: not in the tables, not in the data block.
    assert "<script>document.body" not in page and "<img src=x" not in page and "<b>bold" not in page
    data = _data(page)
    assert any("</script><script>document.body.dataset.pwned=1" in t["reasoning"] for e in data["episodes"] for t in e["turns"])
    # Nothing is fetched: no external script/style/image, and a CSP that forbids it.
    assert "default-src 'none'" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=[\"']?(https?:|//)", page)
    assert page.count('src="data:image/png;base64,') >= 3  # leaderboard, training, behaviour
    assert re.search(r'<table id="per-app-table">.*?<td>notes</td><td class=num>91.7 <small>\(6\)</small>', page, re.DOTALL)
    # The viewer caps what it shows and the data says so.
    assert [c["shown"] for c in data["caps"]] == [5, 5, 5] and data["limits"]["max_episodes"] == 5
    assert {e["run"] for e in data["episodes"]} == {"base", "gpt-4o", "loop"}
    # Leaderboard: LOOP first on the dev split, and the ROI data measured from its latest dev evaluation.
    assert [r["run"] for r in data["leaderboard"]][0].startswith("loop @ iter_000010")
    roi = {m["name"]: m for m in data["roi"]["runs"]}
    assert roi["loop"]["tgc"] == pytest.approx(11 / 12) and "eval/iter_000010/rollouts.jsonl" in roi["loop"]["sources"]["tgc"]
    assert roi["base"]["train_hours"] == 0.0 and [s["key"] for s in data["roi"]["sliders"]][0] == "tasks_per_month"


def test_report_caps_long_fields(rt, tmp_path):
    long = rt.make(turns=[{"text": "x" * 5000 + "\n```python\nprint(1)\n```", "output": "y" * 5000}])
    run = rt.run(tmp_path / "r", [long])
    page = render_report([load_run(run)], max_chars=300)
    turn = _data(page)["episodes"][0]["turns"][0]
    assert len(turn["reasoning"]) < 400 and "cut: 4700 more characters" in turn["reasoning"]
    assert "cut: 4700 more characters" in turn["output"]


def test_report_cli_writes_one_file(sample_runs, tmp_path):
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *map(str, sample_runs), "--out", str(out), "--max-episodes", "3"])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("<!doctype html>") and "wrote" in result.output


def test_leaderboard_ranks_within_each_split(rt, tmp_path):
    def run(name, split, solved):
        trajs = [rt.make(f"t{i}", success=i < solved, split=split, scenario=f"s{i}") for i in range(4)]
        return load_run(rt.run(tmp_path / name, trajs, name=name))

    page = render_report([run("a", "dev", 1), run("b", "test_normal", 2), run("c", "dev", 3)])
    table = re.search(r'<table id="leaderboard-table">.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", table)]
    assert [(r[0], r[1], r[4], r[5]) for r in rows] == [("1", "c", "dev", "75.0"), ("2", "a", "dev", "25.0"), ("1", "b", "test_normal", "50.0")]


def test_compare_two_real_eval_runs(tiny_model_dir, tmp_path):
    """Two real `looprl eval` runs of the tiny model (greedy vs temperature 1) compared end to end."""
    from looprl.analysis import summarize
    from looprl.trajectory import read_jsonl

    dirs = []
    for name, temperature in (("greedy", 0.0), ("sampled", 1.0)):
        out = tmp_path / name
        res = runner.invoke(
            app,
            [
                "eval",
                "--model",
                str(tiny_model_dir),
                "--out",
                str(out),
                "--samples",
                "2",
                "--max-tasks",
                "2",
                "--no-progress",
                "--set",
                "env.name=toy",
                "--set",
                "rollout.scaffold=env",
                "--set",
                "env.eval_max_turns=2",
                "--set",
                "rollout.sampling.max_new_tokens=12",
                "--set",
                f"rollout.sampling.temperature={temperature}",
            ],
        )
        assert res.exit_code == 0, res.output
        dirs.append(out)
    res = runner.invoke(app, ["compare", *map(str, dirs), "--json"])
    assert res.exit_code == 0, res.output
    result = json.loads(res.stdout)
    assert [r["name"] for r in result["runs"]] == ["greedy", "sampled"]
    rows = {r["key"]: r for r in result["metrics"]}
    expected = [summarize(list(read_jsonl(d / "rollouts.jsonl"))) for d in dirs]
    assert rows["tgc"]["values"] == pytest.approx([e["tgc"] for e in expected])
    assert rows["n_rollouts"]["values"] == [4, 4]
    tokens = rows["behaviour/agent_tokens_per_episode"]["values"]
    assert all(1 <= t <= 12 for t in tokens) and rows["behaviour/agent_tokens_per_episode"]["ratios"] == pytest.approx([tokens[1] / tokens[0]])
    table = runner.invoke(app, ["compare", *map(str, dirs)])
    assert table.exit_code == 0 and "sampled / greedy" in table.stdout


def test_report_keeps_transcripts_within_the_size_budget(rt, tmp_path):
    def run(name, n):
        trajs = [rt.make(f"t{i}", turns=[{"text": "z" * 900, "output": "o" * 900}]) for i in range(n)]
        return load_run(rt.run(tmp_path / name, trajs, name=name))

    page = render_report([run("a", 30), run("b", 10)], max_viewer_mb=0.02)  # ~20 KB: about 10 episodes of ~2 KB
    data = _data(page)
    caps = {c["run"]: c for c in data["caps"]}
    shown = caps["a"]["shown"] + caps["b"]["shown"]
    assert caps["a"]["total"] == 30 and 5 <= shown <= 10 and abs(caps["a"]["shown"] - caps["b"]["shown"]) <= 1
    assert len(data["episodes"]) == shown
    assert len(json.dumps(data["episodes"], ensure_ascii=False)) <= 20_000 + 100
