"""Every command and subcommand answers --help, listing its options with a description."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from looprl.cli import app

runner = CliRunner()


def _all_commands():
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path, cmd
        # typer ships its own copy of click, so duck-type groups instead of isinstance(click.Group)
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])

    return list(walk(root, []))


@pytest.mark.parametrize("path,cmd", _all_commands(), ids=lambda x: " ".join(x) if isinstance(x, list) else "")
def test_help_lists_every_option_with_a_description(path, cmd):
    result = runner.invoke(app, path + ["--help"])
    assert result.exit_code == 0, result.output
    for param in cmd.params:
        if getattr(param, "param_type_name", "") == "option" and param.name != "help":
            assert param.help, f"`looprl {' '.join(path)}` option {param.opts} has no help text"


def test_config_show_reports_bad_value_and_exits_2():
    result = runner.invoke(app, ["config", "show", "--set", "trainer.epochs=0"])
    assert result.exit_code == 2
    assert "trainer.epochs" in result.output and "greater than or equal to 1" in result.output


def test_config_show_prints_resolved_yaml():
    result = runner.invoke(app, ["config", "show", "--set", "trainer.lr=2e-5"])
    assert result.exit_code == 0, result.output
    assert "lr: 2.0e-05" in result.output and "rollouts_per_task: 6" in result.output


def test_fail_prints_the_message_as_written_and_exits_with_its_code(capsys):
    from looprl.commands._common import fail

    with pytest.raises(typer.Exit) as exit_:
        fail("bad value [bold]x[/bold] for --set a.b=[1, 2]")
    assert exit_.value.exit_code == 2
    assert capsys.readouterr().err.strip() == "error: bad value [bold]x[/bold] for --set a.b=[1, 2]"  # brackets are text, not markup
    with pytest.raises(typer.Exit) as exit_:
        fail("the work failed", 1)
    assert exit_.value.exit_code == 1
