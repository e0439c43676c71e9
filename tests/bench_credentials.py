"""Benchmark: wall time from start to the one-line credentials error, per command (a new process each).

    python3 -m tests.bench_credentials [--repeat N]

Prints a Markdown table (median and max of N runs). Nothing is asserted here; the behaviour is
asserted in tests/test_credentials.py.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import tempfile

from tests.fakes.oauth import EXPIRED, TokenServer, closed_port, no_google_env, run_cli, write_authorized_user
from tests.test_credentials import GOOGLE_COMMANDS, TEXT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        env = no_google_env(pathlib.Path(tmp))
        for name, argv_ in GOOGLE_COMMANDS.items():
            rows.append((f"{name} (no credentials)", *_time(argv_, env, args.repeat)))
        stale = dict(env, CLOUDSDK_CONFIG=str(pathlib.Path(tmp) / "stale"))
        write_authorized_user(stale)
        with TokenServer() as tokens:
            tokens.answer = (400, EXPIRED)
            rows.append(("submit (expired ADC file)", *_time(["submit", TEXT], stale, args.repeat, tokens.url)))
        refused = f"http://127.0.0.1:{closed_port()}/token"
        rows.append(("submit (token endpoint unreachable)", *_time(["submit", TEXT], stale, args.repeat, refused)))
    print(f"| command | exit | median s | max s | (n={args.repeat}) |\n|---|---|---|---|---|")
    for name, code, median, worst in rows:
        print(f"| {name} | {code} | {median:.2f} | {worst:.2f} | |")
    return 0


def _time(argv: list[str], env: dict, repeat: int, token_uri: str = "") -> tuple[int, float, float]:
    times, code = [], None
    for _ in range(repeat):
        done, seconds = run_cli(argv, env, token_uri=token_uri)
        times.append(seconds)
        code = done.returncode
    return code, statistics.median(times), max(times)


if __name__ == "__main__":
    raise SystemExit(main())
