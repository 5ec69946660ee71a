"""Shell completion for ``federation``: a bash (or zsh) script made from the
argparse parser itself, so every command, subcommand, flag and choice the
parser knows completes, and nothing else needs to be kept in step.

The script holds one table: for each command path (``federation cluster add``…) the words
that may follow it. Its completion function finds the longest known path among
the words typed so far and offers that path's words; after a flag with
choices (``-o``, ``--log-level``…) it offers the choices; values of other
flags complete as file names.
"""

from __future__ import annotations

import argparse

FUNCTION = "_federation_complete"
FILES = "@files"  # a flag whose value is free text: complete file names


def _tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(path, words that may follow it, {flag: its choices}) for every command path."""
    words: list[str] = []
    choices: dict[str, list[str]] = {}
    children = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                words.append(name)
                children.append((name, sub))
            continue
        words += action.option_strings
        if not action.option_strings and action.choices:  # a positional with choices
            words += [str(c) for c in action.choices]
        if action.option_strings and action.nargs != 0:  # a flag that takes a value
            for flag in action.option_strings:
                choices[flag] = [str(c) for c in action.choices] if action.choices else [FILES]
    yield path, words, choices
    for name, sub in children:
        yield from _tree(sub, path + (name,))


def _quote(words) -> str:
    return " ".join(words).replace("'", "")


def bash_script(parser: argparse.ArgumentParser) -> str:
    prog = parser.prog
    entries, flag_entries = [], []
    for path, words, choices in _tree(parser, (prog,)):
        key = " ".join(path)
        entries.append(f"    ['{key}']='{_quote(words)}'")
        for flag, values in choices.items():
            flag_entries.append(f"    ['{key}|{flag}']='{_quote(values)}'")
    return f"""# {prog} completion for bash: source it, e.g. in ~/.bashrc:
#   source <({prog} completion bash)
declare -gA _federation_words=(
{chr(10).join(entries)}
)
declare -gA _federation_choices=(
{chr(10).join(flag_entries)}
)

{FUNCTION}() {{
    # ${{array[@]:offset:1}} counts from 0 in bash and in zsh (whose arrays start at 1);
    # "cmdpath", not "path": zsh ties $path to $PATH.
    local cur=${{COMP_WORDS[@]:$COMP_CWORD:1}} prev=${{COMP_WORDS[@]:$((COMP_CWORD - 1)):1}}
    local cmdpath={prog} candidate values i
    # The longest command path among the words before the cursor.
    for ((i = 1; i < COMP_CWORD; i++)); do
        candidate="$cmdpath ${{COMP_WORDS[@]:$i:1}}"
        if [[ -n ${{_federation_words[$candidate]+set}} ]]; then
            cmdpath=$candidate
        fi
    done
    values=${{_federation_choices[$cmdpath|$prev]-}}
    if [[ $values == "{FILES}" ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    elif [[ -n $values ]]; then
        COMPREPLY=($(compgen -W "$values" -- "$cur"))
    else
        COMPREPLY=($(compgen -W "${{_federation_words[$cmdpath]}}" -- "$cur"))
    fi
    return 0
}}
complete -o default -F {FUNCTION} {prog}
"""


def zsh_script(parser: argparse.ArgumentParser) -> str:
    """zsh runs the bash function through its bashcompinit layer."""
    return (f"#compdef {parser.prog}\n# {parser.prog} completion for zsh: "
            f"source <({parser.prog} completion zsh)\n"
            "(( $+functions[compdef] )) || { autoload -U +X compinit && compinit -u; }\n"
            "autoload -U +X bashcompinit && bashcompinit\n"
            + bash_script(parser).split("\n", 2)[2])


def script(shell: str, parser: argparse.ArgumentParser) -> str:
    return bash_script(parser) if shell == "bash" else zsh_script(parser)
