"""The command line. Each command parses its options and calls one function of the pipeline;
a `DigestError` becomes one line on stderr and a non-zero exit (`--debug` shows the traceback)."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from typing import Any

import click

from digest import __version__
from digest.config import Config, config_path, load_config
from digest.errors import ConfigError, DigestError
from digest.pipeline import fetch_all, open_configured_store


class _State:
    def __init__(self, config_file: str | None, debug: bool) -> None:
        self.config_file = config_file
        self.debug = debug
        self._config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.config_file)
        return self._config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Config file (default: $DIGEST_CONFIG, else ./config.yaml).",
)
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logs.")
@click.version_option(__version__, prog_name="digest")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """paper digest: a daily, personalised email of new and trending research papers."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = _State(config_file, debug)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object keyed by source.")
@click.option(
    "--date",
    "day",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="The day to fetch for dated sources (HF Daily Papers, bioRxiv); default today (UTC).",
)
@click.pass_obj
def fetch(state: _State, as_json: bool, day: Any) -> None:
    """Pull new papers from every configured source into the store.

    Prints one line per source (fetched / new / updated, or its error) and exits 1 if any
    source failed; the others are stored all the same.
    """
    config = state.config
    store = open_configured_store(config)
    try:
        reports = fetch_all(config, store, today=day.date() if day else None)
    finally:
        store.close()
    if as_json:
        body = {r.name: {k: v for k, v in asdict(r).items() if k != "name"} for r in reports}
        click.echo(json.dumps(body, indent=2))
    else:
        for r in reports:
            if r.error:
                click.echo(f"{r.name}: error: {r.error}")
            else:
                click.echo(f"{r.name}: fetched {r.fetched}, new {r.new}, updated {r.updated}")
    failed = [r.name for r in reports if r.error]
    if not reports:
        click.echo("no sources configured (add some under sources: in config.yaml)", err=True)
    if failed:
        click.echo(
            f"error: {len(failed)} of {len(reports)} sources failed: {', '.join(failed)}",
            err=True,
        )
        sys.exit(1)


@cli.command()
@click.pass_obj
def check(state: _State) -> None:
    """Validate config.yaml: report every problem at once and exit 1 on any."""
    path = config_path(state.config_file)
    try:
        config = load_config(path)
    except ConfigError as e:
        for problem in e.problems or [str(e)]:
            click.echo(f"{path}: {problem}" if e.problems else problem, err=True)
        sys.exit(1)
    click.echo(f"{path}: ok ({len(config.sources)} sources, {len(config.subscribers)} subscribers)")


def main(argv: list[str] | None = None) -> None:
    """The console script: run the CLI, turning DigestErrors into one clean line."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="digest", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except DigestError as e:
        if debug:
            raise
        click.echo(f"error: {e}", err=True)
        sys.exit(1)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)


if __name__ == "__main__":  # pragma: no cover
    main()
