"""benchmarks/bench_learning_curve.py at smoke size on the tiny model: a --budget-minutes 0 run that
stops before any work and says so, a budget that stops seed 0's training after one of its two
iterations, the same command without it (seed 0 resumes from its checkpoint; the finished evaluation
is not redone), then a rerun that does nothing; the JSON's shape, the table's intervals, and the refusal of another setting on one folder."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "bench_learning_curve.py"


def _load():
    spec = importlib.util.spec_from_file_location("bench_learning_curve", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _argv(out: Path, model: Path, *extra: str) -> list[str]:
    tiny = ["env.max_turns=1", "env.eval_max_turns=1", "rollout.sampling.max_new_tokens=8", "sft_instances=1", "sft_chats_per_iteration=6"]
    args = ["--out", str(out), "--model", str(model), "--seeds", "0", "1", "--tasks", "1", "--k", "2", "--eval-every", "1"]
    args += ["--heldout-per-scenario", "1", "--dev-tasks", "2", "--sampler", "transformers"]
    return args + [x for s in tiny for x in ("--set", s)] + list(extra)


def test_overrides_go_to_loops_config_unless_they_are_the_demos():
    bench = _load()
    assert bench.demo_override("trainer.lr=1e-4") == "train.trainer.lr=1e-4"
    assert bench.demo_override("lora.r=8") == "train.lora.r=8"
    assert bench.demo_override("sft_lr=1e-3") == "sft_lr=1e-3" and bench.demo_override("train.seed=3") == "train.seed=3"
    assert bench.eval_points(12, 3) == [3, 6, 9, 12] and bench.eval_points(5, 2) == [2, 4, 5]


def test_the_reproducing_command_drops_the_budget_and_keeps_the_warmup_source():
    bench = _load()
    first = "python b.py --budget-minutes 55 --seeds 0 --set trainer.lr=1.5e-4 --out o --warmup-from 'a dir'"
    later = "python b.py --budget-minutes=12 --seeds 0 --set trainer.lr=1.5e-4 --out o"
    assert bench.reproducing_command([first]) == "python b.py --seeds 0 --set trainer.lr=1.5e-4 --out o --warmup-from 'a dir'"
    assert bench.reproducing_command([first, later]) == "python b.py --seeds 0 --set trainer.lr=1.5e-4 --out o --warmup-from 'a dir'"
    assert bench.reproducing_command(["python b.py --iterations 20 --budget-minutes 100"]) == "python b.py --iterations 20"


def test_committed_evaluations_without_their_runs_state_are_not_continued(tmp_path):
    """A fresh clone has evals/ (committed) but not state.json and runs/: a rerun would train new
    adapters and put them on the same curve as the committed evaluations of the old ones."""
    bench = _load()
    out = tmp_path / "curve"
    (out / "evals").mkdir(parents=True)
    (out / "evals" / "warmup.json").write_text("{}")
    with pytest.raises(SystemExit, match="holds evaluations \\(warmup.json\\) of a run whose state and checkpoints are not here"):
        bench.run(bench.parse_args(_argv(out, tmp_path / "no-model", "--budget-minutes", "0")))
    assert not (out / "state.json").exists()


def test_flattening_says_flat_still_rising_or_where_it_flattens():
    bench = _load()
    curve = [{"iteration": i, "rollouts_per_seed": 32 * i, "heldout": {"tgc": {"mean": m}}} for i, m in ((0, 37.5), (4, 37.8), (8, 39.2), (12, 42.4))]

    def step(a, b, low):
        return {"from": a, "to": b, "diff": 1.0, "separated": low > 0, "ci95": [low, low + 4]}

    flat = bench.flattening({"curve": curve, "steps": [step(0, 4, -2), step(4, 8, -2), step(8, 12, -1)]})
    assert "flat within its intervals from the warm-up on" in flat and "highest at iteration 12 (384 rollouts per seed): 42.4%" in flat
    rising = bench.flattening({"curve": curve, "steps": [step(0, 4, -2), step(4, 8, -2), step(8, 12, 0.3)]})
    assert "iteration 8 -> 12" in rising and "had not flattened when the run ended" in rising and "flattens from" not in rising
    levels = bench.flattening({"curve": curve, "steps": [step(0, 4, 0.5), step(4, 8, -2), step(8, 12, -1)]})
    assert "iteration 0 -> 4" in levels and "so it flattens from iteration 4" in levels
    falls = bench.flattening({"curve": curve, "steps": [{**step(0, 4, -27), "diff": -18.8, "separated": True, "ci95": [-27.1, -10.4]}]})
    assert "It falls: iteration 0 -> 4 (-18.8 pts) separated from 0 downwards" in falls and "the curve does not rise" in falls
    assert "flat within" not in falls and "It falls" not in flat
    assert bench.flattening({"curve": curve[:1], "steps": []}) == "no step between evaluation points yet."
    # steps too small to separate one by one, but separated together: still rising, not flat
    span = {"from": 4, "to": 12, "diff": 3.8, "separated": True, "ci95": [0.4, 7.9]}
    small = [step(0, 4, 0.5), step(4, 8, -2), step(8, 12, -1)]
    slow = bench.flattening({"curve": curve, "steps": small, "since_last_rise": span})
    assert "together they are: iteration 4 -> 12 is +3.8 pts [0.4, 7.9]" in slow and "had not flattened" in slow and "flattens from" not in slow
    level = bench.flattening({"curve": curve, "steps": small, "since_last_rise": {**span, "separated": False, "ci95": [-1.0, 7.9]}})
    assert "nor all of them together (iteration 4 -> 12: +3.8 pts [-1.0, 7.9]), so within what this run resolves it flattens from iteration 4" in level


def test_heldout_pick_is_distinct_and_warns_where_a_scenario_has_too_few():
    bench = _load()
    from looprl.world.tasks import distinct_instances

    have, exact = distinct_instances("payments_count_requests", heldout=True, limit=1000)
    assert exact
    ids, counts, warnings = bench.pick_heldout(["payments_count_requests", "phone_create_alarm"], [1], have + 1)
    assert counts == {"payments_count_requests": have, "phone_create_alarm": have + 1} and len(ids) == len(set(ids)) == 2 * have + 1
    assert ids[:2] == ["payments_count_requests_100001", "phone_create_alarm_100001"]  # interleaved over the scenarios
    assert len(warnings) == 1 and f"has {have} distinct held-out instances" in warnings[0] and f"taking {have}, not {have + 1}" in warnings[0]


@pytest.mark.timeout(1800)
def test_learning_curve_smoke_resume_and_budget(tiny_model_dir, tmp_path, capsys, monkeypatch):
    bench = _load()
    out = tmp_path / "curve"

    # --budget-minutes 0: nothing is started, and it says what is left and how to continue
    stopped = bench.run(bench.parse_args(_argv(out, tiny_model_dir, "--iterations", "2", "--budget-minutes", "0")))
    said = capsys.readouterr().out
    assert "stopped by --budget-minutes 0 before: SFT-GT warm-up" in said and "to continue, run the same command again" in said
    assert stopped["stopped"]["left"][0] == "the warm-up" and stopped["done_now"] == {"warmup": False, "evaluations": 0, "iterations": 0}
    assert not (out / "runs").exists() and not list((out / "evals").iterdir())
    assert not stopped["complete"] and "INCOMPLETE" in (out / "curve.md").read_text()

    # a budget that holds the warm-up, its evaluation and one iteration of seed 0: training stops at that iteration's end
    with monkeypatch.context() as m:
        m.setattr(bench.Clock, "left", lambda self: 1500.0)
        m.setattr(bench.Curve, "iteration_seconds", lambda self: 1000.0)  # one fits in 1500 s with the model load, two do not
        first = bench.run(bench.parse_args(_argv(out, tiny_model_dir, "--iterations", "2", "--eval-every", "2", "--budget-minutes", "25")))
    said = capsys.readouterr().out
    assert first["stopped"]["before"] == "LOOP seed 0: iterations 2-2" and "stopped by --budget-minutes 25 before: LOOP seed 0" in said
    assert first["done_now"] == {"warmup": True, "evaluations": 1, "iterations": 1} and not first["complete"]
    assert "seed 0: evaluations at iterations [2] (trained to iteration 1 of 2)" in first["missing"]
    assert [h["iteration"] for h in first["seeds"]["0"]["training"]] == [1] and first["seeds"]["1"]["training"] == []
    assert "INCOMPLETE" in (out / "curve.md").read_text() and [r["iteration"] for r in first["curve"]] == [0]
    warm = (out / "evals" / "warmup.json").stat().st_mtime_ns

    # the same command without the budget (and every iteration evaluated): seed 0 resumes from its checkpoint at 1
    result = bench.run(bench.parse_args(_argv(out, tiny_model_dir, "--iterations", "2")))
    assert result["done_now"] == {"warmup": False, "evaluations": 4, "iterations": 3}
    assert (out / "evals" / "warmup.json").stat().st_mtime_ns == warm
    assert result["complete"] and result["missing"] == [] and result["stopped"] is None
    done = {p.name: p.stat().st_mtime_ns for p in (out / "evals").iterdir()}
    assert set(done) == {"warmup.json", *(f"seed{s}_iter00{i}.json" for s in (0, 1) for i in (1, 2))}

    # the JSON: per seed and checkpoint, rollouts and optimizer steps so far, held-out and dev numbers with per-task values
    assert set(result["seeds"]) == {"0", "1"}
    for seed in result["seeds"].values():
        assert [h["iteration"] for h in seed["training"]] == [1, 2] and all(h["rollouts"] == 2 for h in seed["training"])
        assert all(h["reward_mean"] is not None for h in seed["training"])
        cps = seed["checkpoints"]
        assert [c["iteration"] for c in cps] == [0, 1, 2] and [c["rollouts"] for c in cps] == [0, 2, 4]
        assert cps[-1]["optimizer_steps"] == sum(h["optimizer_steps"] for h in seed["training"])
        for c in cps:
            assert len(c["heldout"]["per_task"]) == 6 and len(c["dev"]["per_task"]) == 2  # one per training scenario; two dev tasks
            assert c["heldout"]["tgc"] == 100.0 * sum(c["heldout"]["per_task"].values()) / 6
    assert result["seeds"]["0"]["checkpoints"][0] == {**result["seeds"]["1"]["checkpoints"][0]}  # the one warm-up evaluation
    assert [r["iteration"] for r in result["curve"]] == [0, 1, 2] and [r["rollouts_per_seed"] for r in result["curve"]] == [0, 2, 4]
    for r in result["curve"]:
        for name in ("heldout", "dev"):
            low, high = r[name]["tgc"]["ci95"]
            assert 0.0 <= low <= r[name]["tgc"]["mean"] <= high <= 100.0
    last = result["curve"][-1]["heldout"]
    assert last["tgc"]["seeds"] == 2 and last["per_seed_tgc"] == [result["seeds"][s]["checkpoints"][-1]["heldout"]["tgc"] for s in ("0", "1")]
    gain = result["gain"]
    assert gain["iteration"] == 2 and gain["final"] and set(gain["heldout"]["per_seed"]) == {"0", "1"}
    pooled = gain["heldout"]["pooled"]
    per_seed_diffs = [result["seeds"][s]["checkpoints"][-1]["heldout"]["tgc"] - result["seeds"][s]["checkpoints"][0]["heldout"]["tgc"] for s in ("0", "1")]
    assert pooled["n_shared"] == 6 and pooled["diff"] == pytest.approx(sum(per_seed_diffs) / 2)
    assert gain["heldout"]["goal_reached"] == (pooled["separated"] and pooled["ci95"][0] > 0 and pooled["diff"] >= 10)
    assert [(st["from"], st["to"]) for st in result["steps"]] == [(0, 1), (1, 2)]
    assert result["setting"]["loop"]["rollouts_per_seed"] == 4 and "env.max_turns=1" in result["setting"]["overrides"]

    # the table: the command and the machine first, intervals, the verdict, the flattening
    table = (out / "curve.md").read_text()
    assert table.splitlines()[2].startswith("Command: `python ") and "Machine: " in table and "Status: complete." in table
    assert "held-out TGC % [95% CI]" in table and "| 2 | 4 | 2 | " in table and f"{pooled['diff']:+.1f} [" in table
    assert ("the interval excludes 0." if pooled["separated"] else "the interval includes 0") in table
    assert "The issue's goal (>= +10 points with an interval that excludes 0) is " in table and "## Where the curve flattens" in table
    assert (out / "curve.png").stat().st_size > 0
    assert json.loads((out / "curve.json").read_text())["curve"] == result["curve"]

    # a rerun of the finished benchmark redoes nothing
    again = bench.run(bench.parse_args(_argv(out, tiny_model_dir, "--iterations", "2")))
    assert again["done_now"] == {"warmup": False, "evaluations": 0, "iterations": 0} and again["curve"] == result["curve"]
    assert all((out / "evals" / name).stat().st_mtime_ns == t for name, t in done.items())

    # another setting on the same folder is refused, naming what changed
    with pytest.raises(SystemExit, match="rollouts_per_task: 2 -> 3"):
        bench.run(bench.parse_args(_argv(out, tiny_model_dir, "--iterations", "2", "--k", "3")))

    # another LOOP setting from the same warm-up (--warmup-from): refused when the warm-up's config differs,
    # leaving the new folder unmarked; else its warm-up and evaluation are taken, not redone, and pair with it
    other = tmp_path / "curve_lr"
    with pytest.raises(SystemExit, match="trained with another config \\(trainer.lr: "):
        bench.run(bench.parse_args(_argv(other, tiny_model_dir, "--iterations", "1", "--seeds", "0", "--warmup-from", str(out), "--set", "sft_lr=0.5")))
    assert not (other / "state.json").exists()
    argv = _argv(other, tiny_model_dir, "--iterations", "1", "--seeds", "0", "--warmup-from", str(out), "--set", "trainer.lr=0.02")
    adopted = bench.run(bench.parse_args(argv))
    assert "warm-up taken from" in capsys.readouterr().out
    assert adopted["done_now"] == {"warmup": False, "evaluations": 1, "iterations": 1} and adopted["complete"]
    assert adopted["warmup"] == result["warmup"] and adopted["setting"]["warmup_from"] == str(out)
    assert adopted["seeds"]["0"]["checkpoints"][0]["heldout"] == result["seeds"]["0"]["checkpoints"][0]["heldout"]
    assert (other / "runs" / "warmup" / "checkpoints").is_dir() and "taken from there" in (other / "curve.md").read_text()
    assert adopted["gain"]["heldout"]["pooled"]["n_shared"] == 6
    # ... and it is paired against the curve it came from, point by point, seed by seed, on the same tasks
    vs = adopted["vs_source"]
    assert vs["source"] == str(out) and vs["found"] and any(d.startswith("train.trainer.lr: ") and d.endswith("-> 0.02") for d in vs["setting_changed"])
    [point] = vs["points"]
    theirs = result["seeds"]["0"]["checkpoints"][1]["heldout"]["tgc"]
    assert point["iteration"] == 1 and point["seeds"] == [0] and point["n_shared"] == 6
    assert point["diff"] == pytest.approx(adopted["seeds"]["0"]["checkpoints"][1]["heldout"]["tgc"] - theirs)
    assert f"## Against {out} (the curve this warm-up came from)" in (other / "curve.md").read_text()
    assert result["vs_source"] is None and "## Against" not in table

    # dynamic sampling from the same warm-up: an evaluation point is a number of rollouts spent (point x
    # tasks x K = 2 per point here), reached at the first iteration that crosses it, and paired with the
    # source's point of the same nominal rollouts
    dyn = tmp_path / "curve_ds"
    argv = _argv(dyn, tiny_model_dir, "--iterations", "2", "--seeds", "0", "--warmup-from", str(out), "--set", "trainer.dynamic_sampling=true")
    ds = bench.run(bench.parse_args(argv))
    assert ds["complete"] and ds["setting"]["loop"]["dynamic_sampling"] and "dynamic sampling (at most 3 extra batches" in (dyn / "curve.md").read_text()
    history, cps = ds["seeds"]["0"]["training"], ds["seeds"]["0"]["checkpoints"]
    assert all(h["rollouts"] in (2, 4, 6, 8) for h in history)  # K = 2 per group, 1 to 4 groups drawn
    for c in cps[1:]:
        first = next(h for h in history if h["rollouts_so_far"] >= 2 * c["iteration"])
        assert c["trained_iteration"] == first["iteration"] and c["rollouts"] == first["rollouts_so_far"] >= 2 * c["iteration"]
    assert [r["rollouts_per_seed"] for r in ds["curve"]] == [0, *(c["rollouts"] for c in cps[1:])]
    assert [(p["iteration"], p["rollouts"]["source"]) for p in ds["vs_source"]["points"]] == [(1, 2), (2, 4)]
    assert "train.trainer.dynamic_sampling: False -> True" in ds["vs_source"]["setting_changed"]
