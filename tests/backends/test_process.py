"""ProcessBackend: a sampler in a child process, the same answers as in this one, its errors raised
here, its death reported, its cores pinned, and no child left behind by a killed parent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from looprl.backends.base import PolicyBackend, SamplerUnavailable, SamplingParams
from looprl.backends.process import ProcessBackend
from looprl.testing.fakes import CharTokenizer, ScriptedPolicy

SCRIPTED = "looprl.testing.fakes:ScriptedPolicy"
PROMPTS = [CharTokenizer().encode("<|im_start|>user\nready<|im_end|>"), CharTokenizer().encode("<|im_start|>user\ngo on<|im_end|>")]


def test_the_child_answers_what_the_backend_answers_in_this_process():
    sampling = SamplingParams(temperature=0.0, max_new_tokens=64)
    with ProcessBackend(SCRIPTED) as backend:
        assert isinstance(backend, PolicyBackend) and not backend.concurrent_requests and backend.generator is None
        assert backend.generate(PROMPTS, sampling) == ScriptedPolicy().generate(PROMPTS, sampling)
        assert backend.generate([], sampling) == []
        truncated = backend.generate(PROMPTS, SamplingParams(max_new_tokens=3))
        assert [g.finish_reason for g in truncated] == ["length", "length"] and all(len(g.token_ids) == 3 for g in truncated)


def test_attributes_are_mirrored_and_the_base_model_block_reaches_the_child():
    with ProcessBackend(SCRIPTED, {"delay_s": 0.01}) as backend:
        assert backend.delay_s == 0.01 and backend.on_base_model is False
        with backend.sampling_base_model():
            assert backend.on_base_model is True
            with backend.sampling_base_model():  # nested, as the inner backend allows
                assert backend.on_base_model is True
            assert backend.on_base_model is True
        assert backend.on_base_model is False
        assert backend.load_adapter("/some/adapter") is None
        with pytest.raises(AttributeError, match="no attribute 'adapters_missing'"):
            getattr(backend, "adapters_missing")  # noqa: B009


def test_an_error_in_the_child_is_raised_here_with_its_type_message_and_traceback():
    with pytest.raises(TypeError, match="bogus") as info:
        ProcessBackend(SCRIPTED, {"bogus": 1})
    assert any("raised in the looprl.testing.fakes:ScriptedPolicy sampler process" in note for note in info.value.__notes__)
    with ProcessBackend(SCRIPTED) as backend:
        with pytest.raises(IndexError):  # exit without a matching enter: the child's error, and the child goes on
            backend._call("exit_base")
        assert backend.generate(PROMPTS[:1], SamplingParams(max_new_tokens=64))[0].finish_reason == "stop"


def test_a_child_that_dies_is_reported_as_an_unavailable_sampler():
    backend = ProcessBackend(SCRIPTED)
    os.kill(backend._proc.pid, signal.SIGKILL)
    backend._proc.wait(timeout=30)
    with pytest.raises(SamplerUnavailable, match="died .*exit status -9"):
        backend.generate(PROMPTS, SamplingParams())
    backend.close()


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores to pin the child to one of them")
def test_the_child_computes_on_the_cores_it_is_given():
    core = max(os.sched_getaffinity(0))
    with ProcessBackend(SCRIPTED, cores=[core]) as backend:
        assert os.sched_getaffinity(backend._proc.pid) == {core}
    assert backend._proc.returncode == 0


def test_a_parent_killed_with_sigkill_leaves_no_child_behind():
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time
                from looprl.backends.process import ProcessBackend
                backend = ProcessBackend({SCRIPTED!r})
                print(backend._proc.pid, flush=True)
                time.sleep(600)
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.2)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie (exited, not yet reaped by init) is gone
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(
    ("backend", "staleness", "setting", "child"),
    [
        ("openvino", 1, "auto", True),  # its step() holds the GIL: overlapped, it samples from a child
        ("openvino", 0, "auto", False),
        ("llamacpp", 1, "auto", False),
        ("llamacpp", 0, True, True),
        ("openvino", 2, False, False),
    ],
)
def test_which_samplers_run_in_a_child_process(backend, staleness, setting, child):
    from looprl.build import sampler_in_child_process
    from looprl.config import RolloutConfig

    rollout = RolloutConfig(backend=backend, max_staleness=staleness, sampler_process=setting, sampling={"temperature": 1.0})
    assert sampler_in_child_process(rollout, training=True) is child
    assert sampler_in_child_process(rollout, training=False) is (setting is True)


def test_a_child_process_for_a_sampler_that_cannot_have_one_is_refused():
    from looprl.config import RolloutConfig

    for backend in ("vllm", "transformers"):
        with pytest.raises(ValueError, match=f"rollout.sampler_process=true with rollout.backend='{backend}'"):
            RolloutConfig(backend=backend, sampler_process=True)


def test_the_child_closes_its_backend_once_whether_told_to_or_left(tmp_path):
    """close() closes the inner backend once; a parent that only drops its end of the socket (collected,
    or killed) gets it closed too: a llama.cpp engine's exported files are not left in the temp dir."""
    told, left = tmp_path / "told", tmp_path / "left"
    with ProcessBackend(SCRIPTED, {"closed_marker": str(told)}):
        pass
    assert told.read_text() == "1"
    backend = ProcessBackend(SCRIPTED, {"closed_marker": str(left)})
    backend._conn.close()
    backend._proc.wait(timeout=30)
    assert left.read_text() == "1"
