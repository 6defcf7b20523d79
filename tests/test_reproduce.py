"""benchmarks/reproduce.py end to end in smoke size: on the built-in world (tiny model, transformers
sampler, 2 held-out instances + 1 dev task, one-turn episodes) for LOOP and the two methods whose budget
is matched by hand (SFT-GT, RFT), two seeds from one shared warm-up, then resumed; every method's
config without training; and the toy-env variant."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "reproduce.py"


def _load():
    spec = importlib.util.spec_from_file_location("reproduce", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["task_id"] for line in path.read_text().splitlines() if line.strip()]


def _appsuite_argv(out: Path, model: Path, *extra: str) -> list[str]:
    return [
        "--out",
        str(out),
        "--model",
        str(model),
        "--sampler",
        "transformers",
        "--iterations",
        "2",
        "--tasks-per-iteration",
        "1",
        "--k",
        "2",
        "--heldout-tasks",
        "2",
        "--dev-tasks",
        "1",
        "--no-report",
        "--set",
        "sft_instances=1",
        "--set",
        "sft_epochs=1",
        "--set",
        "train.tasks.scenarios=[email_count_from_sender,phone_create_alarm]",
        "--set",
        "train.env.max_turns=1",
        "--set",
        "train.env.eval_max_turns=1",
        "--set",
        "train.rollout.sampling.max_new_tokens=8",
        "--set",
        "train.trainer.epochs=1",
        *extra,
    ]


def test_reproduce_appsuite_smoke_and_resume(tiny_model_dir, tmp_path, capsys):
    bench = _load()
    out = tmp_path / "rep"
    argv = _appsuite_argv(out, tiny_model_dir, "--methods", "loop", "sft-gt", "rft", "--seeds", "0", "1")
    result = bench.run_appsuite(bench.parse_args(argv))
    for name in ("reproduce.json", "reproduce.md", "behaviour.md", "reproduce.png", "state.json"):
        assert (out / name).is_file(), name
    assert [r["method"] for r in result["table"]] == ["loop", "sft-gt", "rft"]
    for row in result["table"]:
        assert row["heldout_tgc"]["n"] == row["dev_sgc"]["n"] == 2  # mean ± sd over both seeds
    runs = out / "runs"
    warmup_adapter = str(runs / "warmup" / "checkpoints" / "iter_000001" / "adapter")
    for r in result["runs"]:
        here = runs / f"{r['method']}_s{r['seed']}"
        assert r["eval"]["heldout"]["source"] == str(here / "eval_final_heldout" / "summary.json")  # traceable to its run
        assert r["eval"]["heldout"]["tasks"] == 2 and r["eval"]["dev"]["tasks"] == 1
        assert warmup_adapter in (here / "train" / "config.yaml").read_text()  # every method starts from the one warm-up
    heldout = _ids(runs / "eval_warmup_heldout" / "rollouts.jsonl")
    assert heldout == result["setting"]["heldout_ids"] and all(int(t.rsplit("_", 1)[1]) >= 100_001 for t in heldout)
    for seed in (0, 1):
        loop_tasks = {t for f in sorted((runs / f"loop_s{seed}" / "train" / "rollouts").glob("*.jsonl")) for t in _ids(f)}
        assert len(loop_tasks) == 2 and len(_ids(runs / f"loop_s{seed}" / "train" / "rollouts" / "iter_000001.jsonl")) == 2  # K=2
        sft = _ids(runs / f"sft-gt_s{seed}" / "train" / "fixed_data.jsonl")
        assert set(sft) == loop_tasks and len(sft) == 2  # the ground truth of exactly the tasks LOOP drew
        rft = _ids(runs / f"rft_s{seed}" / "train" / "fixed_data.jsonl")
        assert len(rft) == bench.rft_tasks(bench.parse_args(argv)) * 3 * 2 and set(rft) <= loop_tasks
    by = {r["method"]: r for r in result["table"]}
    assert by["loop"]["rollouts_sampled"] == 4 and by["sft-gt"]["rollouts_sampled"] == 0 and by["rft"]["rollouts_sampled"] == 6
    assert set(result["behaviour"]["methods"]) == {"loop", "sft-gt", "rft"}
    assert result["cost"]["estimate_s"]["total"] > 0 and "loop/s1/train" in result["cost"]["stage_seconds"]
    md = (out / "reproduce.md").read_text()
    assert "| SFT-GT warm-up (the start) |" in md and "| LOOP (token) |" in md and "held-out SGC" in md
    assert "paper: test-normal TGC" in md and "Of 3 pairs of methods" in md  # the small-scale ordering against the paper's

    capsys.readouterr()
    again = bench.run_appsuite(bench.parse_args(argv))  # resumed: nothing is redone
    assert again["table"] == result["table"]
    assert "[reproduce] loop/s0" not in capsys.readouterr().out
    with pytest.raises(SystemExit, match="another setting"):  # a changed budget never mixes with the old runs
        bench.run_appsuite(bench.parse_args(argv + ["--k", "3"]))


def test_ordering_against_the_papers_pair_by_pair():
    bench = _load()

    def row(method, mean, sd):
        return {"method": method, "paper_tgc": bench.PAPER_TGC[method], "heldout_tgc": {"mean": mean, "sd": sd}}

    # paper: LOOP 71.3 > GRPO 59.0 > RLOO 57.2 > SFT-GT 6.2
    table = [row("loop", 40.0, 2.0), row("grpo", 45.0, 1.0), row("rloo", 45.0, 10.0), row("sft-gt", 10.0, 0.0)]
    o = bench.ordering(table, "heldout_tgc")
    assert [m for m, _ in o["paper"]] == ["loop", "grpo", "rloo", "sft-gt"]
    assert o["here"][-1] == ["sft-gt", 10.0] and o["here"][0][1] == 45.0
    assert o["reversed"] == [["loop", "grpo"], ["loop", "rloo"]] and o["tied"] == [["grpo", "rloo"]]
    assert sorted(o["agree"]) == [["grpo", "sft-gt"], ["loop", "sft-gt"], ["rloo", "sft-gt"]]
    # beyond the larger sd: loop-grpo (5 > 2), loop-sft (30 > 2), grpo-sft (35 > 1), rloo-sft (35 > 10); not loop-rloo (5 < 10)
    assert o["beyond_spread"] == 4
    md = bench.ordering_markdown(o)
    assert "Of 6 pairs of methods, 3 are in the paper's order here, 2 reversed, 1 tied" in md
    assert "Reversed here (the paper's higher first): LOOP (token) < GRPO, no KL; LOOP (token) < RLOO." in md


def test_method_configs_match_the_budget(tiny_model_dir, tmp_path):
    """Every method's config, without training: the method, seed and start adapter; SFT-GT and RFT on
    the very tasks the RL runs draw; PPO's critic warm-up at the paper's share."""
    bench = _load()
    args = bench.parse_args(_appsuite_argv(tmp_path, tiny_model_dir, "--iterations", "3", "--tasks-per-iteration", "2"))
    cfg = bench.build_config(args)
    configs = {m: bench.method_config(cfg, args, m, 1, str(tiny_model_dir), "ADAPTER", tmp_path / m, "transformers", None) for m in bench.APPSUITE_METHODS}
    from looprl.experiments import task_sequence

    drawn = task_sequence(configs["loop"], 6)
    for m, c in configs.items():
        assert (c.trainer.method, c.seed, c.model.adapter_path, c.trainer.eval_every) == (m, 1, "ADAPTER", 0)
        assert c.trainer.lr == configs["loop"].trainer.lr
    assert configs["sft-gt"].tasks.task_ids == drawn and configs["sft-gt"].trainer.epochs == 2 * 1  # K x epochs
    assert configs["rft"].tasks.task_ids == drawn[:2]  # 2 tasks x 3 temperatures x K = the RL runs' 3 x 2 x K
    assert configs["ppo"].trainer.critic_warmup_iterations == 0 and configs["grpo-kl"].trainer.kl_coef > 0
    defaults = bench.parse_args([])
    assert (defaults.iterations, defaults.tasks_per_iteration, defaults.k, defaults.methods) == (4, 8, 4, bench.APPSUITE_METHODS)
    assert (defaults.heldout_tasks, defaults.dev_tasks, defaults.seeds) == (96, 18, [0, 1, 2])  # issue 24's evaluation, 3 seeds
    assert 10 * 3600 <= bench.estimate_seconds(defaults, 96, 18)["total"] <= 12 * 3600  # the docstring's ~11 h


def test_reproduce_toy_smoke_and_resume(tmp_path, capsys):
    bench = _load()
    argv = [
        "--env",
        "toy",
        "--out",
        str(tmp_path / "toy"),
        "--methods",
        "loop",
        "sft-gt",
        "--seeds",
        "0",
        "--iterations",
        "2",
        "--tasks-per-iteration",
        "2",
        "--k",
        "2",
        "--test-tasks",
        "2",
        "--eval-every",
        "1",
    ]
    assert bench.main(argv) == 0
    data = json.loads((tmp_path / "toy" / "reproduce.json").read_text())
    assert [r["method"] for r in data["table"]] == ["loop", "sft-gt"] and data["setting"]["env"] == "toy"
    assert all(len(r["curve"]) == 2 for r in data["runs"])
    assert (tmp_path / "toy" / "reproduce.png").is_file() and "| LOOP (token) |" in (tmp_path / "toy" / "reproduce.md").read_text()
    capsys.readouterr()
    assert bench.main(argv) == 0
    assert "loop seed 0: already done" in capsys.readouterr().out


def test_ordering_pairs_methods_on_the_same_tasks():
    """With per-task results, a pair agrees or is reversed only when its paired interval excludes 0."""
    bench = _load()

    def row(method, mean):
        return {"method": method, "paper_tgc": bench.PAPER_TGC[method], "heldout_tgc": {"mean": mean, "sd": 0.0}}

    tasks = [f"t{i}" for i in range(30)]
    solved = {  # per seed: task -> solved; LOOP solves every task GRPO solves and 12 more; RLOO one task apart from GRPO
        "loop": [{t: float(i < 20) for i, t in enumerate(tasks)}] * 2,
        "grpo": [{t: float(i < 8) for i, t in enumerate(tasks)}] * 2,
        "rloo": [{t: float(i < 9) for i, t in enumerate(tasks)}] * 2,
        "sft-gt": [{t: float(i < 25) for i, t in enumerate(tasks)}] * 2,
    }
    table = [row(m, 100 * sum(v[0].values()) / 30) for m, v in solved.items()]
    o = bench.ordering(table, "heldout_tgc", solved)
    paired = {k: [e["pair"] for e in v] for k, v in o["paired"].items()}
    assert ["loop", "grpo"] in paired["agree"] and ["loop", "rloo"] in paired["agree"]
    assert ["grpo", "rloo"] in paired["not_separated"]  # 1 task of 30 apart: the interval includes 0
    assert ["loop", "sft-gt"] in paired["reversed"] and ["grpo", "sft-gt"] in paired["reversed"]
    entry = next(e for e in o["paired"]["agree"] if e["pair"] == ["loop", "grpo"])
    assert entry["diff"] == pytest.approx(40.0) and entry["n_shared"] == 30 and entry["ci95"][0] > 0
    md = bench.ordering_markdown(o)
    assert "Paired on the same held-out tasks" in md and "- LOOP (token) - GRPO, no KL: +40.0 [" in md
    assert bench.ordering(table, "heldout_tgc")["paired"] is None  # results recorded before per-task values: no paired verdict
