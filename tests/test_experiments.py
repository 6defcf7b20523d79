"""looprl.experiments' resumable stages: run once, marked with their time, resumed from any state file."""

from __future__ import annotations

import io
import json

from rich.console import Console

from looprl.experiments import Marks, Stages


def test_a_stage_runs_once_and_is_marked_with_when_how_long_and_what_it_returned(tmp_path, capsys):
    calls = []
    stages = Stages(Marks(tmp_path / "state.json"), "x")
    assert stages("one", lambda n: calls.append(n) or {"path": "p"}, 3) is True
    assert stages("one", lambda n: calls.append(n), 4) is False and calls == [3]
    saved = json.loads((tmp_path / "state.json").read_text())
    assert set(saved["one"]) == {"at", "seconds", "path"} and saved["one"]["path"] == "p"
    assert "[x] one: 0 s" in capsys.readouterr().out
    again = Stages(Marks(tmp_path / "state.json"), "x")  # a new process resumes from the file
    assert not again.pending(["one"]) and again.pending(["one", "two"])
    assert again("two", lambda: None) and Marks(tmp_path / "state.json").seconds("two") >= 0.0


def test_titled_stages_announce_themselves_or_say_they_are_done(tmp_path):
    out = io.StringIO()
    stages = Stages(Marks(tmp_path / "s.json"), "demo", Console(file=out, width=80))
    stages("a", lambda: None, title="1/2 first stage")
    stages("a", lambda: None, title="1/2 first stage")
    text = out.getvalue()
    assert "1/2 first stage" in text.splitlines()[0] and "- 1/2 first stage: already done (20" in text


def test_a_demo_state_file_of_the_earlier_layout_resumes(tmp_path):
    path = tmp_path / "demo_state.json"
    earlier = {"model": {"at": "2025-01-01T00:00:00+00:00", "path": "/m", "seconds": 1.0}, "before": {"at": "2025-01-01T00:01:00+00:00", "seconds": 60.0}}
    path.write_text(json.dumps({"done": earlier}))
    marks = Marks(path)
    assert marks.done("model") and marks.get("model")["path"] == "/m" and marks.seconds("before") == 60.0 and not marks.done("done")
    Stages(marks, "demo")("sft", lambda: None)
    assert set(json.loads(path.read_text())) == {"model", "before", "sft"}  # written back in the one layout
