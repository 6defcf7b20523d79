"""The fault report (benchmarks/bench_faults.py) reads every FAULT_CASES list of tests/faults/ and runs
those tests: each case names a test that exists, and a case's row counts its test items, passed or not."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_faults.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_faults", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_faults"] = module  # its dataclass looks its module up while it is made
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules["bench_faults"]


def test_every_module_with_fault_cases_is_in_the_report_and_names_real_tests(bench):
    listed = {p.name for p in bench.FAULT_TESTS.glob("test_*.py") if "\nFAULT_CASES = " in p.read_text()}
    assert listed == set(bench.FAULT_TEST_FILES)
    for name in bench.FAULT_TEST_FILES:
        path = bench.FAULT_TESTS / name
        tests = {node.name for node in ast.parse(path.read_text()).body if isinstance(node, ast.FunctionDef)}
        cases = bench.fault_cases(path)
        assert cases and len({fault for fault, _, _ in cases}) == len(cases), name
        for _, test, means in cases:
            assert test.split("[")[0] in tests and means, (name, test)


def test_a_case_row_counts_its_items_and_their_failures(bench, tmp_path):
    module = tmp_path / "test_demo_faults.py"
    module.write_text(
        "import pytest\n"
        "FAULT_CASES = [('kinds', 'test_kinds', 'every kind'), ('one', 'test_kinds[b]', 'b alone'), ('broken', 'test_broken', 'never')]\n"
        "@pytest.mark.parametrize('kind', ['a', 'b', 'c'])\n"
        "def test_kinds(kind):\n    assert kind != 'c'\n"
        "def test_broken():\n    raise RuntimeError('injected')\n"
    )
    rows = {r.fault: r for r in bench.run_fault_tests(module, timeout_s=120)}
    assert (rows["kinds"].injected, rows["kinds"].survived) == (3, "no (1 of 3 failed)")
    assert (rows["one"].injected, rows["one"].survived) == (1, "yes")
    assert (rows["broken"].injected, rows["broken"].survived, rows["broken"].rollouts_lost) == (1, "no (1 of 1 failed)", "-")
