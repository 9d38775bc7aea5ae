"""The command line: help for every command, exit codes, one-line reasons."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agent import __version__
from agent.cli import build_parser, main

COMMANDS = ["demo", "sandbox", "run", "sync", "status", "errors", "history", "config", "connections", "secrets"]


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_version_and_help_list_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out
    help_text = build_parser().format_help()
    for command in COMMANDS:
        assert command in help_text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_config_init_check_show_path(isolated_paths, capsys):
    assert main(["config", "path"]) == 0
    assert str(isolated_paths / "config.toml") in capsys.readouterr().out
    assert main(["config", "path", "--all"]) == 0
    assert f"logs    {isolated_paths / 'data' / 'logs'}" in capsys.readouterr().out
    assert main(["config", "init", "--nop-url", "https://shop.test"]) == 0
    assert main(["config", "init"]) == 2  # refuses to overwrite
    assert main(["config", "check"]) == 0
    capsys.readouterr()
    assert main(["config", "show"]) == 0
    shown = capsys.readouterr().out
    assert 'url = "https://shop.test"' in shown and "[schedules]" in shown


def test_config_errors_exit_2_with_one_line_per_problem(isolated_paths, capsys):
    (isolated_paths / "config.toml").write_text('[nopcommerce]\nurl = "shop"\nusername = "a"\n[bng]\nurl = "x"\n'
                                                 '[agent]\nworkerz = 3\n', encoding="utf-8")
    assert main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert "bngsync: config: nopcommerce.url: must start with http:// or https://" in err
    assert "bngsync: config: bng.url: must start with http:// or https://" in err
    assert "bngsync: config: agent.workerz: is not a known setting (check the spelling)" in err
    assert main(["status"]) == 2  # the agent does not start on a wrong file


def test_missing_secret_exits_2_with_the_fix(isolated_paths, capsys):
    assert main(["config", "init"]) == 0
    capsys.readouterr()
    assert main(["sync", "orders"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "bngsync secrets set nopcommerce" in err[0]


def test_unusable_data_dir_exits_2(isolated_paths, capsys):
    assert main(["config", "init"]) == 0
    blocker = isolated_paths / "blocker"
    blocker.write_text("not a folder")
    capsys.readouterr()
    assert main(["--data-dir", str(blocker / "data"), "status"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data dir" in err[0]


def test_status_errors_history_on_a_fresh_store(isolated_paths, capsys):
    assert main(["config", "init"]) == 0
    capsys.readouterr()
    assert main(["status", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["open_errors"] == 0 and report["running"] is False
    assert {f["flow"] for f in report["flows"]} == {"orders", "shipments", "inventory", "products", "customers"}
    assert main(["errors", "list"]) == 0
    assert main(["history"]) == 0
    assert main(["errors", "retry", "42"]) == 2


def test_secrets_set_and_clear_from_stdin(monkeypatch, memory_keyring, capsys):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("k3y-from-stdin\n"))
    assert main(["secrets", "set", "bng"]) == 0
    assert memory_keyring.items[("bngsync", "bng.api_key")] == "k3y-from-stdin"
    assert "k3y-from-stdin" not in capsys.readouterr().out
    assert main(["secrets", "clear", "bng"]) == 0


def test_usage_errors_exit_2():
    result = run_cli("sync", "everything")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
