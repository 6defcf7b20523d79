"""Checkpoint faults: a corrupt checkpoint of every kind is named, skipped and fallen back from; a disk
that fills (or a folder that is not writable) while a checkpoint is written leaves the previous one
intact, stops `looprl train` with one message and exit 1, and `--resume` then ends with the weights of
a run never interrupted. `FAULT_CASES` are this module's rows for the fault report."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
from pathlib import Path

import pytest
import torch
from exact_runs import EXACT, RECIPE, adapter_of, exact_cfg
from typer.testing import CliRunner

from looprl.training.checkpoint import CheckpointWriteError, TrainerState, load_latest, save_checkpoint, verify_checkpoint
from looprl.training.trainer import Trainer

# fault, what is injected, what "survived" means: the rows this module adds to the fault report
FAULT_CASES = [
    ("checkpoint: corrupt adapter/trainer.pt/manifest (9 kinds)", "test_every_corrupt_checkpoint_kind_falls_back", "previous one used, named"),
    ("checkpoint: adapter or optimizer state that does not restore", "test_resume_falls_back_past_a_state_that_does_not_restore", "previous checkpoint used"),
    ("disk full / folder unwritable at checkpoint", "test_disk_full_at_checkpoint_then_resume_is_exact", "run stops (exit 1), resume exact"),
]


# ------------------------------------------------------------------ corrupt checkpoints, every kind


def _two_checkpoints(run_dir: Path) -> Path:
    for i in (1, 2):
        state = TrainerState(iteration=i, optimizer={}, rng={}, sampler={"epoch": 0, "position": i})
        save_checkpoint(run_dir, state, lambda d, i=i: (Path(d).mkdir(), (Path(d) / "adapter_model.safetensors").write_bytes(b"w" * 64 * i)), keep=0)
    return run_dir / "checkpoints" / "iter_000002"


def _rewrite_manifest(ckpt: Path) -> None:
    """Make the checksums match whatever the files hold now: only loading can tell them apart."""
    manifest = json.loads((ckpt / "manifest.json").read_text())
    manifest["files"] = {rel: hashlib.sha256((ckpt / rel).read_bytes()).hexdigest() for rel in manifest["files"]}
    (ckpt / "manifest.json").write_text(json.dumps(manifest))


def _truncate(p: Path) -> None:
    p.write_bytes(p.read_bytes()[:10])


CORRUPTIONS = {
    "adapter truncated": (lambda c: _truncate(c / "adapter" / "adapter_model.safetensors"), "does not match its checksum"),
    "adapter garbled": (lambda c: (c / "adapter" / "adapter_model.safetensors").write_bytes(b"x" * 128), "does not match its checksum"),
    "adapter missing": (lambda c: (c / "adapter" / "adapter_model.safetensors").unlink(), "is missing"),
    "trainer.pt missing": (lambda c: (c / "trainer.pt").unlink(), "trainer.pt listed in the manifest is missing"),
    "manifest missing": (lambda c: (c / "manifest.json").unlink(), "has no manifest.json"),
    "manifest not JSON": (lambda c: (c / "manifest.json").write_text('{"iteration": 2, "files": '), "not readable JSON"),
    "manifest not UTF-8": (lambda c: (c / "manifest.json").write_bytes(b'{"iteration": 2, "files": {"\xff\xfe\x80": "x"}}'), "not readable JSON"),
    "manifest lists nothing": (lambda c: (c / "manifest.json").write_text('{"iteration": 2, "files": {}}'), "lists no files"),
    "trainer.pt does not load": (lambda c: ((c / "trainer.pt").write_bytes(b"not a torch file"), _rewrite_manifest(c)), "trainer.pt does not load"),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_every_corrupt_checkpoint_kind_falls_back(kind, tmp_path, caplog):
    corrupt, named = CORRUPTIONS[kind]
    newest = _two_checkpoints(tmp_path)
    corrupt(newest)
    with caplog.at_level(logging.WARNING):
        path, state = load_latest(tmp_path)
    assert path.name == "iter_000001" and state.iteration == 1
    assert "iter_000002" in caplog.text and named in caplog.text, caplog.text
    assert "falling back to the previous checkpoint" in caplog.text


def test_an_unreadable_file_is_corrupt_not_a_crash(tmp_path, caplog, monkeypatch):
    newest = _two_checkpoints(tmp_path)
    import looprl.training.checkpoint as ckpt

    real = ckpt._sha256

    def unreadable(path):
        if "iter_000002" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ckpt, "_sha256", unreadable)
    with pytest.raises(ckpt.CorruptCheckpoint, match="cannot be read"):
        verify_checkpoint(newest)
    with caplog.at_level(logging.WARNING):
        path, _ = load_latest(tmp_path)
    assert path.name == "iter_000001" and "iter_000002" in caplog.text


def _break_optimizer(ckpt: Path) -> None:
    data = torch.load(ckpt / "trainer.pt", weights_only=False)
    data["optimizer"]["param_groups"][0]["params"] = data["optimizer"]["param_groups"][0]["params"][:1]  # fits no live optimizer
    torch.save(data, ckpt / "trainer.pt")
    _rewrite_manifest(ckpt)


def _break_adapter(ckpt: Path) -> None:
    from safetensors.torch import load_file, save_file

    weights = next((ckpt / "adapter").glob("*.safetensors"))
    tensors = load_file(weights)
    save_file({k: torch.zeros(3, 3) for k in tensors}, weights)  # a valid file of the wrong shapes
    _rewrite_manifest(ckpt)


@pytest.mark.parametrize("breaks", [_break_optimizer, _break_adapter], ids=["optimizer", "adapter"])
def test_resume_falls_back_past_a_state_that_does_not_restore(breaks, tiny_model_dir, tmp_path, caplog):
    cfg = exact_cfg(tiny_model_dir, tmp_path, "trainer.iterations=2", "rollout.concurrency=8")
    Trainer(cfg, progress=False).train()
    newest = tmp_path / "checkpoints" / "iter_000002"
    breaks(newest)
    verify_checkpoint(newest)  # the checksums match: only restoring it shows what is wrong
    with caplog.at_level(logging.WARNING):
        resumed = Trainer(cfg, resume=True, progress=False)
    assert resumed.iteration == 1 and resumed.last_checkpoint.name == "iter_000001"
    assert "iter_000002 does not restore" in caplog.text, caplog.text


# ------------------------------------------------------------------ disk full / unwritable at checkpoint


def _fail_at(monkeypatch, target: str, exc: OSError) -> None:
    """Make the checkpoint writer fail at one file: the adapter, trainer.pt or the manifest (or the folder itself)."""
    import looprl.training.checkpoint as ckpt

    if target == "trainer.pt":
        real = torch.save
        monkeypatch.setattr(ckpt.torch, "save", lambda obj, f, *a, **k: (_ for _ in ()).throw(exc) if str(f).endswith("trainer.pt") else real(obj, f, *a, **k))
    elif target == "manifest.json":
        monkeypatch.setattr(ckpt, "atomic_write_json", lambda path, obj, **k: (_ for _ in ()).throw(exc))
    elif target == "folder":
        monkeypatch.setattr(ckpt.tempfile, "mkdtemp", lambda *a, **k: (_ for _ in ()).throw(exc))
    else:
        raise AssertionError(target)


def test_disk_full_at_checkpoint_then_resume_is_exact(tiny_model_dir, tmp_path, monkeypatch, uninterrupted):
    cfg = exact_cfg(tiny_model_dir, tmp_path)
    trainer = Trainer(cfg, progress=False)
    trainer.train(stop_after=1)
    before = {p.name: p.read_bytes() for p in (tmp_path / "checkpoints" / "iter_000001").rglob("*") if p.is_file()}
    _fail_at(monkeypatch, "trainer.pt", OSError(errno.ENOSPC, "No space left on device", "trainer.pt"))
    with pytest.raises(CheckpointWriteError, match="the disk is full") as info:
        trainer.train()
    assert info.value.intact.name == "iter_000001" and "newest intact checkpoint is" in str(info.value)
    monkeypatch.undo()  # space freed
    ckpts = tmp_path / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir() if p.is_dir()) == ["iter_000001"]  # no partial folder left behind
    verify_checkpoint(ckpts / "iter_000001")
    assert before == {p.name: p.read_bytes() for p in (ckpts / "iter_000001").rglob("*") if p.is_file()}
    resumed = Trainer(cfg, resume=True, progress=False)
    assert resumed.iteration == 1
    resumed.train()
    for a, b in zip(uninterrupted, adapter_of(resumed)):
        assert torch.equal(a, b)


def _cli(args):
    from looprl.cli import app

    return CliRunner().invoke(app, args)


@pytest.mark.parametrize(
    "target,exc,says",
    [
        ("manifest.json", OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        ("folder", PermissionError(errno.EACCES, "Permission denied", "checkpoints"), "not writable"),
    ],
    ids=["disk-full-at-manifest", "folder-unwritable"],
)
def test_cli_stops_with_one_message_and_resumes(target, exc, says, tiny_model_dir, tmp_path, monkeypatch):
    run = tmp_path / "run"
    args = ["train", "--config", str(RECIPE), "--no-progress"]
    for s in (f"model.name_or_path={tiny_model_dir}", f"run_dir={run}", *EXACT, "trainer.iterations=2", "rollout.concurrency=8"):
        args += ["--set", s]
    _fail_at(monkeypatch, target, exc)
    res = _cli(args)
    assert res.exit_code == 1, res.output
    assert isinstance(res.exception, SystemExit) and "Traceback" not in res.output, res.output
    assert says in res.output and "no earlier checkpoint exists" in res.output and f"looprl train --resume {run}" in res.output, res.output
    assert not [p for p in (run / "checkpoints").iterdir() if p.is_dir()]  # the partial checkpoint was removed
    monkeypatch.undo()
    res = _cli(args)  # nothing to resume from: the run starts again and now finishes
    assert res.exit_code == 0, res.output
    assert load_latest(run)[1].iteration == 2
