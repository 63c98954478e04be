"""``cronagents login``: the bundled Claude Code CLI's own login flow, and the ways without a browser.

Installing cronagents puts no ``claude`` on PATH, so ``claude /login`` is not
something a user can type: this runs the bundled CLI's ``auth login`` (or
``setup-token`` for a long-lived token) with the terminal, after saying where
the login is kept and how a server without a browser is given credentials
instead (``ANTHROPIC_API_KEY``, or ``CLAUDE_CODE_OAUTH_TOKEN``).
"""

from __future__ import annotations

import subprocess
import sys

from app import claude_cli
from app.credentials import claude_config_dir

__all__ = ["HEADLESS_HELP", "login"]

HEADLESS_HELP = """\
On a server without a browser, give cronagents one of these in its environment instead:
  ANTHROPIC_API_KEY=sk-ant-...         an API key from the Claude Console (billed per use), or
  CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat…  a 1-year Claude subscription token: make one with
                                       `cronagents login --token` wherever a browser is at hand.
Then check with: cronagents doctor"""


def login(to_console: bool = False, long_lived_token: bool = False) -> int:
    """Run the bundled CLI's login with this terminal; its exit status."""
    cli = claude_cli.bundled_cli()
    if cli is None:
        print(
            "cronagents: error: the Claude Code CLI bundled with claude-agent-sdk is missing; "
            "reinstall it: pip install --force-reinstall claude-agent-sdk",
            file=sys.stderr,
        )
        return 1
    if long_lived_token:
        command = [str(cli), "setup-token"]
        what = "a long-lived token (the CLI prints it; nothing is stored)"
    else:
        command = [str(cli), "auth", "login", *(["--console"] if to_console else [])]
        what = f"a login, kept in {claude_config_dir()} for every agent run of this user"
    print(f"Logging in with the Claude Code CLI bundled in cronagents ({cli}): {what}.", file=sys.stderr)
    print(HEADLESS_HELP, file=sys.stderr)
    if not sys.stdin.isatty():
        print(
            "cronagents: error: `cronagents login` needs a terminal (it asks for a code from the browser)",
            file=sys.stderr,
        )
        return 2
    print(file=sys.stderr, flush=True)
    status = subprocess.call(command)  # noqa: S603 - the bundled CLI, fixed arguments
    if status == 0:
        if long_lived_token:
            print(
                "\nSet that token as CLAUDE_CODE_OAUTH_TOKEN in the environment of "
                "`cronagents serve` (e.g. its systemd unit), then run: cronagents doctor",
                file=sys.stderr,
            )
        else:
            print("\nLogged in. Check with: cronagents doctor", file=sys.stderr)
    return status
