"""Checkpoints that cannot be read, whatever the way, are skipped by name and the previous one is used."""

import hashlib
import json
import logging
from pathlib import Path

import pytest

from looprl.training.checkpoint import CorruptCheckpoint, TrainerState, load_latest, save_checkpoint, verify_checkpoint


def _two_checkpoints(run_dir: Path) -> Path:
    for i in (1, 2):
        state = TrainerState(iteration=i, optimizer={}, rng={}, sampler={"epoch": 0, "position": i})
        save_checkpoint(run_dir, state, lambda d, i=i: (Path(d).mkdir(), (Path(d) / "adapter.bin").write_bytes(b"w" * i)), keep=0)
    return run_dir / "checkpoints" / "iter_000002"


def _falls_back(run_dir: Path, caplog) -> None:
    with caplog.at_level(logging.WARNING):
        path, state = load_latest(run_dir)
    assert path.name == "iter_000001" and state.iteration == 1
    assert "iter_000002" in caplog.text


def test_manifest_with_non_utf8_bytes_falls_back(tmp_path, caplog):
    newest = _two_checkpoints(tmp_path)
    (newest / "manifest.json").write_bytes(b'{"iteration": 2, "files": {"\xff\xfe": "x"}}')
    with pytest.raises(CorruptCheckpoint, match="manifest.json is not readable JSON"):
        verify_checkpoint(newest)
    _falls_back(tmp_path, caplog)


def test_manifest_that_is_not_a_mapping_falls_back(tmp_path, caplog):
    newest = _two_checkpoints(tmp_path)
    (newest / "manifest.json").write_text("[1, 2]")
    _falls_back(tmp_path, caplog)


def test_state_that_does_not_load_falls_back(tmp_path, caplog):
    # the checksums match (the manifest was rewritten for the new bytes), yet trainer.pt is not a state
    newest = _two_checkpoints(tmp_path)
    (newest / "trainer.pt").write_bytes(b"not a torch file")
    manifest = json.loads((newest / "manifest.json").read_text())
    manifest["files"]["trainer.pt"] = hashlib.sha256(b"not a torch file").hexdigest()
    (newest / "manifest.json").write_text(json.dumps(manifest))
    verify_checkpoint(newest)
    _falls_back(tmp_path, caplog)
