"""The command line: help everywhere, clear errors, structured logs."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from federation import __version__, cli, logging_setup


def subcommand_paths(parser, prefix=()):
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                yield prefix + (name,)
                yield from subcommand_paths(sub, prefix + (name,))


def test_every_subcommand_has_help(capsys):
    paths = list(subcommand_paths(cli.build_parser()))
    assert ("serve",) in paths and ("cluster", "add") in paths
    assert ("sim",) not in paths and ("demo",) not in paths  # the simulator's, in kubesim (not the product)
    for path in paths:
        with pytest.raises(SystemExit) as exit_info:
            cli.main([*path, "--help"])
        assert exit_info.value.code == 0, path
        assert "usage: federation" in capsys.readouterr().out


def test_version_through_the_console_script():
    out = subprocess.run([sys.executable, "-m", "federation.cli", "version"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert out.strip() == f"federation {__version__}"


def test_serve_without_tls_is_a_clear_error(capsys):
    assert cli.main(["serve", "--listen", "127.0.0.1:0"]) == 1
    assert "--tls-cert and --tls-key are required" in capsys.readouterr().err


def test_hub_commands_name_the_missing_connection_setting(capsys, monkeypatch):
    for var in ("FEDERATION_HUB", "FEDERATION_CA", "FEDERATION_TOKEN_FILE", "FEDERATION_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    assert cli.main(["services", "--hub", "", "--ca", ""]) == 1
    assert "FEDERATION_HUB" in capsys.readouterr().err


def test_bad_export_mode_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        cli.main(["serve", "--export-mode", "some"])
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["json", "kv"])
def test_logs_are_structured_with_fields(fmt):
    stream = io.StringIO()
    logging_setup.configure("debug", fmt, stream)
    logging.getLogger("federation.test").info("cluster added", extra={"fields": {"cluster": "a b"}})
    line = stream.getvalue().strip()
    if fmt == "json":
        data = json.loads(line)
        assert data["msg"] == "cluster added" and data["cluster"] == "a b" and data["level"] == "info"
    else:
        assert 'msg="cluster added"' in line and 'cluster="a b"' in line and "level=info" in line
    logging_setup.configure("warning", "kv")


def test_logs_follow_a_replaced_stderr_and_never_write_to_a_closed_one(monkeypatch):
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stderr", first)
    logging_setup.configure("info", "kv")
    logging.getLogger("federation.test").info("one")
    monkeypatch.setattr(sys, "stderr", second)
    first.close()  # what a test runner does with a test's captured stderr
    logging.getLogger("federation.test").info("two")
    assert 'msg=two' in second.getvalue() and "msg=one" not in second.getvalue()
    logging_setup.configure("warning", "kv")


def test_unknown_log_level_is_refused():
    with pytest.raises(ValueError, match="log level"):
        logging_setup.configure("loud", "kv", io.StringIO())


def _undocumented(parser, path=()):
    """Every subcommand and argument without help text, as (command path, what)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            documented = {choice.dest for choice in action._choices_actions if choice.help}
            for name, sub in action.choices.items():
                if name not in documented:
                    yield path, name
                yield from _undocumented(sub, path + (name,))
        elif not action.help:
            yield path, "/".join(action.option_strings) or action.dest


def test_every_subcommand_and_argument_has_help_text():
    from federation.agent import cli as agent_cli

    assert list(_undocumented(cli.build_parser())) == []
    assert list(_undocumented(agent_cli.build_parser())) == []


def test_top_level_help_opens_with_what_federation_does(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    description = text.split("\n\n")[1]
    assert " ".join(description.split()) == cli.DESCRIPTION
    assert "``" not in text and "parsing and printing" not in text
    assert "completion" in text and "FEDERATION_HUB" in text


def test_render_help_says_what_cluster_means(capsys):
    with pytest.raises(SystemExit):
        cli.main(["render", "--help"])
    assert "the member cluster's registered name" in " ".join(capsys.readouterr().out.split())
