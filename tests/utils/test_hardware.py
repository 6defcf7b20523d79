"""trainer.autocast: what "auto" means on a machine (by the CPU's flags), and a bad value's error."""

import pytest

from looprl.config import ConfigError, TrainConfig, load_config
from looprl.utils import hardware
from looprl.utils.hardware import resolve_autocast


@pytest.mark.parametrize(
    ("flags", "want"),
    [
        (["avx2", "avx512", "avx512_bf16"], "bfloat16"),  # e.g. AMD EPYC Genoa
        (["avx2", "avx512", "amx_bf16", "amx_tile"], "bfloat16"),  # Xeon Sapphire Rapids
        (["avx2", "avx512"], "off"),  # AVX-512 without bf16 instructions
        (["avx2"], "off"),  # AVX2 only: bf16 matmuls are emulated, slower than fp32
        ([], "off"),
    ],
)
def test_auto_resolves_by_the_cpus_flags(monkeypatch, flags, want):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"model": "test CPU", "cores": 2, "flags": flags})
    assert resolve_autocast("auto", "cpu") == want


def test_explicit_settings_win_over_the_flags(monkeypatch):
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"model": "test CPU", "cores": 2, "flags": ["avx2"]})
    assert resolve_autocast("bfloat16", "cpu") == "bfloat16"
    monkeypatch.setattr(hardware, "cpu_info", lambda: {"model": "test CPU", "cores": 2, "flags": ["amx_bf16"]})
    assert resolve_autocast("off", "cpu") == "off"
    assert resolve_autocast("auto", "mps") == "off"


def test_a_bad_autocast_names_the_field_and_what_is_allowed():
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, overrides=["trainer.autocast=fp16"])
    msg = str(err.value)
    assert "trainer.autocast" in msg and "fp16" in msg and all(v in msg for v in ("auto", "bfloat16", "off"))
    with pytest.raises(ValueError, match="trainer.autocast must be one of auto, bfloat16, off; got 'fp16'"):
        resolve_autocast("fp16", "cpu")


def test_yaml_off_is_autocast_off():
    # YAML reads a bare `off` as false
    assert load_config(TrainConfig, overrides=["trainer.autocast=off"]).trainer.autocast == "off"
