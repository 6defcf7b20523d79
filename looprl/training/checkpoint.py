"""Checkpoints: everything needed to continue a run exactly, written atomically and verified.

A checkpoint is a folder `RUN_DIR/checkpoints/iter_XXXXXX/` holding:

    adapter/          the LoRA adapter (peft format)
    trainer.pt        optimizer state, RNG states (python, numpy, torch, the sampler's generator),
                      the update shuffler's generator, the task sampler's position, metric history
    manifest.json     {"iteration": i, "files": {relative path: sha256}} — written last

It is built in a temporary sibling folder and renamed into place, so a crash leaves either no
checkpoint or a complete one; `checkpoints/latest` names the newest. On load, every file's
checksum is verified; a corrupt, partial or unreadable checkpoint (a manifest that is not UTF-8
JSON, a state that does not load) is reported by name and the previous one is used. `load_latest` returns None when no usable checkpoint exists;
`usable_checkpoints` yields every one that verifies, newest first, so a caller whose own restore of
one fails (an adapter or optimizer state that does not fit the live model) can fall back further.

A checkpoint that cannot be written (the disk full, the folder not writable) raises
`CheckpointWriteError`, which names the file, the reason and the newest checkpoint still intact: the
temporary folder is removed and nothing older is touched, so `looprl train --resume` continues from
that one once the cause is fixed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch

from looprl.utils.io import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)
MANIFEST = "manifest.json"


class CorruptCheckpoint(RuntimeError):
    """A checkpoint folder whose manifest is missing or whose files do not match it."""


class CheckpointWriteError(RuntimeError):
    """A checkpoint that could not be written; `intact` is the newest checkpoint that still verifies (or None)."""

    def __init__(self, message: str, intact: Path | None) -> None:
        super().__init__(message)
        self.intact = intact


@dataclass
class TrainerState:
    iteration: int  # iterations completed
    optimizer: dict[str, Any]
    rng: dict[str, Any]
    sampler: dict[str, Any]
    history: list[dict[str, Any]] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)  # {"iteration", "metric", "value"}
    extra: dict[str, Any] = field(default_factory=dict)


def capture_rng(extra_generators: dict[str, torch.Generator] | None = None) -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        # the current device's only: under FSDP each process drives one GPU, and restores rank 0's
        # state onto its own device (a list over all devices would touch GPUs it does not use)
        state["cuda"] = torch.cuda.get_rng_state()
    for name, gen in (extra_generators or {}).items():
        state[f"gen:{name}"] = gen.get_state()
    return state


def restore_rng(state: dict[str, Any], extra_generators: dict[str, torch.Generator] | None = None) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        if isinstance(state["cuda"], (list, tuple)):  # checkpoints before 2026-11-24: one state per device
            torch.cuda.set_rng_state_all(state["cuda"])
        else:
            torch.cuda.set_rng_state(state["cuda"])
    for name, gen in (extra_generators or {}).items():
        if f"gen:{name}" in state:
            gen.set_state(state[f"gen:{name}"])


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_dir(run_dir: str | Path, iteration: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"iter_{iteration:06d}"


def save_checkpoint(run_dir: str | Path, state: TrainerState, save_adapter: Callable[[str], None], *, keep: int = 2) -> Path:
    """Write checkpoint `state.iteration` atomically; keep the newest `keep` (0 = all)."""
    final = checkpoint_dir(run_dir, state.iteration)
    try:
        _write_checkpoint(final, state, save_adapter, keep)
    except OSError as exc:
        raise _write_error(final, exc) from exc
    return final


def _write_checkpoint(final: Path, state: TrainerState, save_adapter: Callable[[str], None], keep: int) -> None:
    root = final.parent
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=root))
    try:
        save_adapter(str(tmp / "adapter"))
        torch.save(state.__dict__, tmp / "trainer.pt")
        files = {str(p.relative_to(tmp)): _sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()}
        atomic_write_json(tmp / MANIFEST, {"iteration": state.iteration, "files": files})
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    atomic_write_text(root / "latest", final.name + "\n")
    if keep:
        done = sorted(p for p in root.glob("iter_*") if p.is_dir())
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def _write_error(final: Path, exc: OSError) -> CheckpointWriteError:
    """The one message for a checkpoint that could not be written: what, why, and what is left."""
    reason = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is exceeded", errno.EROFS: "the file system is read-only"}.get(
        exc.errno or 0, "the checkpoint folder is not writable" if isinstance(exc, PermissionError) else exc.strerror or str(exc)
    )
    where = f" ({exc.filename})" if exc.filename else ""
    intact = next((path for path, _ in usable_checkpoints(final.parent.parent, quiet=True)), None)
    left = f"the newest intact checkpoint is {intact}" if intact is not None else "no earlier checkpoint exists"
    return CheckpointWriteError(f"could not write checkpoint {final}: {reason}{where}; {left}", intact)


def verify_checkpoint(path: str | Path) -> dict[str, Any]:
    """The manifest of a complete checkpoint; raises CorruptCheckpoint naming what is wrong."""
    path = Path(path)
    try:
        return _verify(path)
    except OSError as exc:  # a file that cannot be read (permissions, I/O error) is as good as missing
        raise CorruptCheckpoint(f"checkpoint {path}: {exc.filename or 'a file'} cannot be read ({exc.strerror or exc})") from None


def _verify(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise CorruptCheckpoint(f"checkpoint {path} has no {MANIFEST} (partial write?)")
    try:
        manifest = json.loads(manifest_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
        raise CorruptCheckpoint(f"checkpoint {path}: {MANIFEST} is not readable JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise CorruptCheckpoint(f"checkpoint {path}: {MANIFEST} is not a mapping with a 'files' mapping")
    for rel, digest in manifest.get("files", {}).items():
        f = path / rel
        if not f.is_file():
            raise CorruptCheckpoint(f"checkpoint {path}: file {rel} listed in the manifest is missing")
        if _sha256(f) != digest:
            raise CorruptCheckpoint(f"checkpoint {path}: file {rel} does not match its checksum (corrupt)")
    if not manifest.get("files"):
        raise CorruptCheckpoint(f"checkpoint {path}: the manifest lists no files")
    return manifest


def load_latest(run_dir: str | Path) -> tuple[Path, TrainerState] | None:
    """The newest checkpoint that verifies, with its state; corrupt ones are named in a warning and skipped."""
    return next(usable_checkpoints(run_dir), None)


def usable_checkpoints(run_dir: str | Path, *, quiet: bool = False) -> Iterator[tuple[Path, TrainerState]]:
    """Every checkpoint that verifies and whose state loads, newest first; each one skipped is named
    in a warning (unless `quiet`) with what is wrong with it."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return
    for path in sorted((p for p in root.glob("iter_*") if p.is_dir()), reverse=True):
        try:
            verify_checkpoint(path)
        except CorruptCheckpoint as exc:
            if not quiet:
                log.warning("%s; falling back to the previous checkpoint", exc)
            continue
        try:  # the checksums match, yet the state may still not load (written by another version, say)
            data = torch.load(path / "trainer.pt", weights_only=False)
            state = TrainerState(**data)
        except Exception as exc:  # noqa: BLE001 - any unreadable state means: use the previous checkpoint
            if not quiet:
                log.warning("checkpoint %s: trainer.pt does not load (%s: %s); falling back to the previous checkpoint", path, type(exc).__name__, exc)
            continue
        yield path, state
