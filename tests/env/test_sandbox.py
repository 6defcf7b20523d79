"""The sandboxed REPL's behaviour: persistence, output, errors as observations, the apis stub, limits."""

from __future__ import annotations

import pytest

from looprl.env.sandbox import ALLOWED_MODULES, SandboxLimits, sandbox_protections


def test_variables_persist_and_last_expression_is_shown(make_sandbox, isolation):
    box = make_sandbox(isolation)
    assert box.run("x = 20\nprint('set')").observation == "set"
    assert box.run("x + 22").observation == "42"
    assert box.run("y = x").observation == "Execution successful."


def test_allowed_modules_import_and_work(make_sandbox):
    box = make_sandbox()
    code = "import " + ", ".join(ALLOWED_MODULES) + "\n"
    code += "from collections import Counter\nimport collections.abc\n"
    code += "print(json.dumps({'a': 1}), math.sqrt(16), datetime.datetime.strptime('2024-01-02', '%Y-%m-%d').day,"
    code += " zoneinfo.ZoneInfo('Europe/Paris').key, Counter('aab')['a'], re.sub('a', 'b', 'aa'))"
    result = box.run(code)
    assert result.ok, result.observation
    assert result.observation == '{"a": 1} 4.0 2 Europe/Paris 2 bb'


def test_api_calls_go_to_the_host_and_are_recorded(make_sandbox, world):
    box = make_sandbox()
    result = box.run("r = apis.kv.set(key='a', value=[1, 2])\nprint(r, apis.kv.get(key='a'))")
    assert result.observation == "{'ok': True} [1, 2]"
    assert world.data == {"a": [1, 2]}
    assert result.api_calls == [
        {"app": "kv", "api": "set", "args": {"key": "a", "value": [1, 2]}, "status": 200, "ok": True, "result": {"ok": True}},
        {"app": "kv", "api": "get", "args": {"key": "a"}, "status": 200, "ok": True, "result": [1, 2]},
    ]


def test_api_error_reaches_the_agent_as_api_error_with_status(make_sandbox):
    box = make_sandbox()
    result = box.run("apis.kv.get(key='missing')")
    assert result.error_kind == "exception"
    assert result.observation.startswith("Execution failed. Traceback:")
    assert "ApiError: 404" in result.observation and "no key 'missing'" in result.observation
    assert result.api_calls[0]["status"] == 404 and result.api_calls[0]["ok"] is False
    caught = box.run("try:\n    apis.kv.get(key='missing')\nexcept ApiError as e:\n    print(e.status, e.body['message'])")
    assert caught.observation == "404 no key 'missing'"


def test_a_bug_in_the_app_is_a_500_not_a_host_crash(make_sandbox):
    result = make_sandbox().run("apis.kv.boom()")
    assert "ApiError: 500" in result.observation and "KeyError" in result.observation


def test_api_arguments_must_be_json_and_keyword(make_sandbox, world):
    box = make_sandbox()
    bad = box.run("apis.kv.set(key='a', value={1, 2})")
    assert "argument 'value' is a set" in bad.observation and world.calls == []
    positional = box.run("apis.kv.get('a')")
    assert "keyword arguments only" in positional.observation


def test_output_before_an_exception_is_kept(make_sandbox):
    result = make_sandbox().run("print('before')\n1/0")
    assert result.observation.startswith("before\nExecution failed. Traceback:")
    assert result.observation.endswith("ZeroDivisionError: division by zero")
    assert "worker.py" not in result.observation  # the worker's own frames are not shown


def test_output_is_always_valid_utf8(make_sandbox):
    result = make_sandbox().run("print('caf\\u00e9', chr(0xD800))")
    assert result.observation == "caf\u00e9 \\ud800"
    result.observation.encode("utf-8")  # no lone surrogate left


def test_syntax_error_is_an_observation(make_sandbox):
    result = make_sandbox().run("def f(:\n    pass")
    assert result.error_kind == "syntax"
    assert "SyntaxError" in result.observation and 'File "<cell>", line 1' in result.observation


def test_api_calls_per_cell_are_limited(make_sandbox, world):
    box = make_sandbox(max_api_calls_per_cell=5)
    result = box.run("for i in range(8):\n    apis.kv.count()")
    assert "ApiError: 429" in result.observation and "at most 5 calls per cell" in result.observation
    assert len(world.calls) == 5
    assert box.run("apis.kv.count()").ok  # the limit is per cell


def test_timeout_interrupts_the_cell_and_keeps_variables(make_sandbox):
    box = make_sandbox(cell_timeout_s=0.5)
    box.run("keep = 'still here'")
    result = box.run("while True:\n    pass")
    assert result.error_kind == "timeout" and "longer than 0.5 s" in result.observation
    assert not result.restarted
    assert box.run("keep").observation == "'still here'"


def test_timeout_does_not_break_an_api_round_trip(make_sandbox, world):
    # The timer fires while calls are in flight; the protocol must stay in step.
    box = make_sandbox(cell_timeout_s=0.3, max_api_calls_per_cell=10**7)
    result = box.run("while True:\n    apis.kv.count()")
    assert result.error_kind == "timeout"
    assert box.run("apis.kv.set(key='z', value=1)\nprint(apis.kv.get(key='z'))").observation == "1"


def test_lost_worker_is_replaced_and_the_agent_told(make_sandbox, world):
    box = make_sandbox()
    box.run("apis.kv.set(key='a', value=1)\nv = 1")
    died = box.run("[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == '_wrap_close'][0].__init__.__globals__['_exit'](7)")
    assert died.restarted and died.error_kind == "died"
    assert "exit code 7" in died.observation and "variables" in died.observation
    assert "NameError" in box.run("v").observation  # fresh variables
    assert box.run("print(apis.kv.get(key='a'))").observation == "1"  # the world kept its state


def test_output_is_capped(make_sandbox):
    result = make_sandbox(max_output_chars=1000).run("for i in range(10000):\n    print('x' * 50)")
    assert result.ok and len(result.output) < 1200
    assert "[output cut:" in result.output


def test_protections_report(isolation):
    report = sandbox_protections(isolation)
    assert report["isolation"] == isolation
    assert report["fresh_interpreter"] and report["scrubbed_environment"] and report["no_new_privs"]
    assert report["unprivileged_user"] and report["no_child_processes"]
    assert report["rlimits"]["RLIMIT_NPROC"] == 0
    assert report["network_isolated"]  # this machine has namespaces either way
    assert report["filesystem_isolated"] is (isolation == "bwrap")
    assert report["seccomp"] is True  # x86_64 here


@pytest.mark.parametrize(
    "options, message",
    [
        ({"cell_timeout_s": 0}, "cell_timeout_s must be a positive number"),
        ({"memory_mb": 10}, "memory_mb=10 is too small"),
        ({"cpu_seconds": 1.5}, "cpu_seconds must be an integer"),
        ({"timeout": 3}, "unknown sandbox limit(s) ['timeout']"),
    ],
)
def test_bad_limits_are_rejected_with_the_field_named(options, message):
    with pytest.raises(ValueError) as err:
        SandboxLimits.from_options(options)
    assert message in str(err.value)


def test_bad_isolation_is_rejected():
    from looprl.env.sandbox import Sandbox

    with pytest.raises(ValueError, match="isolation must be one of auto, bwrap, unshare, none; got 'docker'"):
        Sandbox(lambda *a: None, isolation="docker")


def test_without_bwrap_auto_falls_back_and_says_so(monkeypatch):
    from looprl.env.sandbox import host as sandbox_module

    monkeypatch.setattr(sandbox_module, "_BWRAP_OK", False)
    assert sandbox_module.resolve_isolation("auto") == "unshare"
    with pytest.raises(sandbox_module.SandboxError, match="isolation='bwrap' was asked for"):
        sandbox_module.resolve_isolation("bwrap")


def test_isolation_none_keeps_the_process_protections_and_reports_no_network_isolation(make_sandbox):
    box = make_sandbox("none")
    assert box.run("print(6 * 7)").observation == "42"
    report = box.protections
    assert report["isolation"] == "none" and report["network_isolated"] is False
    assert report["unprivileged_user"] and report["no_child_processes"] and report["scrubbed_environment"]
