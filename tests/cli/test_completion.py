"""`federation completion bash|zsh`: the scripts a real bash and zsh load, and
what they complete (commands, subcommands, flags, choices, files)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

CASES = [
    ("federation cl", ["cluster"]),
    ("federation cluster ", ["add", "kubeconfig", "label", "list", "remove"]),
    ("federation vm token ", ["create", "list", "revoke"]),
    ("federation get -o ", ["json", "table", "wide", "yaml"]),
    ("federation --log-level w", ["warning"]),
    ("federation completion ", ["bash", "zsh"]),
    ("federation trust rotate --wa", ["--wait"]),
    ("federation status --json --h", ["--help", "--hub"]),
]


def script(shell: str) -> str:
    done = subprocess.run([sys.executable, "-m", "federation.cli", "completion", shell],
                          capture_output=True, text=True, timeout=60, check=True)
    return done.stdout


def complete_in_bash(source: str, line: str) -> list[str]:
    words = line.split(" ")
    program = source + f"""
COMP_WORDS=({' '.join(repr(w) for w in words)})
COMP_CWORD={len(words) - 1}
_federation_complete
printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return sorted(w for w in done.stdout.splitlines() if w and not w.startswith("-h"))


@pytest.mark.parametrize("line,expected", CASES)
def test_bash_completes_commands_flags_and_choices(line, expected):
    got = complete_in_bash(script("bash"), line)
    assert [w for w in got if w != "--help" or "--help" in expected] == expected


def test_bash_completes_file_names_for_a_flag_value(tmp_path):
    (tmp_path / "policy.yaml").write_text("{}")
    assert complete_in_bash(script("bash"), f"federation apply -f {tmp_path}/pol") == \
        [f"{tmp_path}/policy.yaml"]


def test_bash_registers_the_function_for_federation():
    done = subprocess.run(["bash", "--norc", "-c", script("bash") + "\ncomplete -p federation"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "_federation_complete" in done.stdout, done.stderr


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_loads_the_script_registers_it_and_completes_words(tmp_path):
    program = script("zsh") + """
print -r -- "${_comps[federation]}"
COMP_WORDS=(federation cluster ""); COMP_CWORD=2; _federation_complete; print -r -- "${COMPREPLY[*]}"
COMP_WORDS=(federation get -o ""); COMP_CWORD=3; _federation_complete; print -r -- "${COMPREPLY[*]}"
"""
    done = subprocess.run(["zsh", "-f", "-c", program], capture_output=True, text=True, timeout=30,
                          env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    registered, cluster, output = done.stdout.splitlines()
    assert registered == "_bash_complete -o default -F _federation_complete"
    assert cluster.split() == ["-h", "--help", "add", "label", "list", "remove", "kubeconfig"]
    assert output.split() == ["table", "wide", "json", "yaml"]
