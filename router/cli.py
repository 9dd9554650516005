"""`wadofarm serve`: flags, each with a WADOFARM_* environment fallback, onto one Config."""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from router import port
from router.config import BY_NAME, ENV_PREFIX, SPECS, Config, SettingError, Spec

DESCRIPTION = """\
wadofarm renders DICOM images for viewers: WADO-URI (/wado) and DICOMweb rendered and
thumbnail requests, answered by a pool of render processes and a render cache, in front of
Orthanc (--orthanc) or a folder of DICOM files (--dicom-dir). Everything else a viewer asks
for is passed through to Orthanc."""

EPILOG = """\
examples:
  wadofarm serve                                   pydicom's sample images, on 127.0.0.1:8080
  wadofarm serve --orthanc http://127.0.0.1:8042   in front of a local Orthanc
  wadofarm serve --check-config                    what each setting is, and where it came from

Every setting of `wadofarm serve --help` can be given as a WADOFARM_* environment variable.
The documentation is the docs/ folder of wadofarm's source (`mkdocs serve` shows it as a site)."""


def version() -> str:
    """The installed distribution's version (an editable install's too)."""
    try:
        return importlib.metadata.version("wadofarm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: pip install .)"


def build_parser() -> argparse.ArgumentParser:
    """The `serve` flags, one per `Config` field; values stay text (None when not given) until
    `config_from_args` reads them, so a bad variable cannot break `--help`."""
    parser = argparse.ArgumentParser(
        prog="wadofarm",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wadofarm {version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    serve = commands.add_parser(
        "serve",
        help="start the server (wadofarm serve --help lists every setting)",
        description="Serve renders from Orthanc (--orthanc), a folder (--dicom-dir), or, with "
        "neither, from the sample files bundled with pydicom. Every flag falls back to the "
        "environment variable named in its help; an empty variable counts as unset.",
    )
    serve.add_argument(
        "--check-config",
        action="store_true",
        help="print each setting, its value and where it came from, then exit (0 if all are "
        "allowed, 2 if not) without serving",
    )
    for spec in SPECS:
        default = spec.shown_default() or "none"
        help_text = f"{spec.setting.help} [{spec.env}; default: {default}]"
        if spec.kind in (int, float):
            help_text = help_text[:-1] + f"; {spec.allowed()}]"
        options: dict[str, Any] = {"dest": spec.name, "default": None}
        options["help"] = help_text.replace("%", "%%")
        if spec.kind is bool:
            serve.add_argument(spec.flag, action=argparse.BooleanOptionalAction, **options)
            continue
        if spec.many:
            options["action"] = "append"
        if spec.choices:
            options["metavar"] = "{" + ",".join(spec.choices) + "}"
        elif spec.setting.metavar:
            options["metavar"] = spec.setting.metavar
        serve.add_argument(spec.flag, **options)
    return parser


def config_from_args(
    args: argparse.Namespace,
    environ: Mapping[str, str] | None = None,
    set_by: dict[str, str] | None = None,
) -> Config:
    """Each setting from its flag, else its variable (if not empty), else its default; a bad
    value raises SettingError naming the flag or the variable it came from. `set_by`, if
    given, is filled with what set each setting (its flag, its variable or "default")."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    set_by = {} if set_by is None else set_by
    set_by.update({spec.name: "default" for spec in SPECS})
    for spec in SPECS:
        given: object = getattr(args, spec.name)
        where = spec.flag
        if given is None:
            text = environ.get(spec.env, "")
            if not text.strip():
                continue
            where = spec.env
        set_by[spec.name] = where
        if given is None:
            given = [p for p in text.split(spec.setting.separator)] if spec.many else text
        try:
            values[spec.name] = _value(spec, given)
            spec.check(values[spec.name])
        except SettingError as error:
            shown = given if isinstance(given, str) else spec.setting.separator.join(given)  # type: ignore[arg-type]
            raise SettingError(where, spec.masked(shown), error.allowed) from None
    try:
        return Config(**values)  # type: ignore[arg-type]
    except SettingError as error:
        where = set_by[error.name]
        name = BY_NAME[error.name].flag if where == "default" else where
        raise SettingError(name, error.value, error.allowed) from None


def _value(spec: Spec, given: object) -> object:
    if isinstance(given, bool):  # --flag / --no-flag
        return given
    if spec.many:
        return tuple(spec.parse(part.strip()) for part in given if part.strip())  # type: ignore[attr-defined]
    if spec.optional and not str(given).strip():
        return None
    return spec.parse(str(given))


def check_machine(config: Config) -> None:
    """What `Config` cannot check by itself: the files and packages the settings name."""
    for folder in config.dicom_dirs:
        if not folder.is_dir():
            raise SettingError("--dicom-dir", folder, "a folder")
    if config.redis_url and importlib.util.find_spec("redis") is None:
        raise SettingError(
            "--redis-url",
            config.redis_url,
            "needs the redis package: pip install 'wadofarm[redis]'",
        )
    if config.auth_tokens and not os.access(config.auth_tokens, os.R_OK):
        raise SettingError("--auth-tokens", config.auth_tokens, "a readable file")


def settings_table() -> str:
    """docs/configuration.md's settings table, made from the same definitions as the flags."""
    rows = ["| flag | variable | default | |", "|---|---|---|---|"]
    for spec in SPECS:
        if spec.kind is bool:
            flag = f"`{spec.flag}`, `--no-{spec.flag[2:]}`"
            env = f"`{spec.env}` (`1`/`0`)"
        else:
            metavar = spec.setting.metavar or ""
            flag = f"`{spec.flag} {metavar}`".replace(" `", "`")
            if spec.many:
                flag += " (repeatable)"
            env = f"`{spec.env}`"
            if spec.many:
                env += f" (`{spec.setting.separator}`-separated)"
        default = spec.shown_default(readme=True)
        help_text = spec.setting.help
        if spec.choices:
            help_text = f"one of {', '.join(f'`{c}`' for c in spec.choices)}: {help_text}"
        elif (allowed := spec.allowed()) and spec.kind in (int, float):
            help_text = f"{help_text} ({allowed})"
        rows.append(f"| {flag} | {env} | {f'`{default}`' if default else ''} | {help_text} |")
    return "\n".join(rows) + "\n"


def env_file_variables(args: argparse.Namespace, environ: Mapping[str, str]) -> dict[str, str]:
    """The WADOFARM_* variables of --env-file (or WADOFARM_ENV_FILE), if one is named: one
    NAME=value a line (an `export ` before it and quotes around the value allowed), `#`
    comments and blank lines skipped. Read at start and again by each reload (SIGHUP)."""
    spec = BY_NAME["env_file"]
    where, path = spec.flag, getattr(args, "env_file", None)
    if path is None:
        where, path = spec.env, environ.get(spec.env, "").strip() or None
    if path is None:
        return {}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise SettingError(where, path, f"a readable file ({exc.strerror})") from None
    variables = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, equals, value = line.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not name.startswith(ENV_PREFIX) or name == spec.env:
            raise SettingError(
                where, path, f"NAME=value lines of WADOFARM_* variables (line {number})"
            )
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        variables[name] = value
    return variables


def read_settings(
    argv: Sequence[str], set_by: dict[str, str] | None = None
) -> tuple[Config, dict[str, str]]:
    """`wadofarm <argv>`'s configuration (flags, --env-file, the environment), checked
    against the machine; and the variables --env-file gave."""
    args = build_parser().parse_args(argv)
    variables = env_file_variables(args, os.environ)
    config = config_from_args(args, {**os.environ, **variables}, set_by)
    check_machine(config)
    if set_by is not None:
        for spec in SPECS:
            if set_by[spec.name] == spec.env and spec.env in variables:
                set_by[spec.name] = f"{spec.env} in --env-file"
    return config, variables


def config_from_argv(argv: Sequence[str], environ: Mapping[str, str]) -> Config:
    """A router's configuration: the supervisor's arguments and variables (--env-file as the
    supervisor last read it, not read again here), read by this process's code."""
    return config_from_args(build_parser().parse_args(argv), environ)


def configure_logging(config: Config) -> None:
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def serve(config: Config, argv: Sequence[str], variables: dict[str, str]) -> None:
    """The supervisor, which starts the routers from `argv` (router.supervisor); it imports
    no more than it needs (not the app: the routers do)."""
    from router.supervisor import Supervisor

    try:
        port.check(config.host, config.port)  # before anything starts, one line if not
    except port.PortUnavailable as error:
        print(f"wadofarm: {error}", file=sys.stderr)
        sys.exit(1)
    configure_logging(config)
    sys.exit(Supervisor(config, argv, variables, lambda: read_settings(argv)).run())


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # `wadofarm` alone: what it is and how to start it
        parser.print_help(sys.stderr)
        sys.exit(2)
    if args.command == "serve":
        set_by: dict[str, str] = {}
        try:
            config, variables = read_settings(argv, set_by)
        except SettingError as error:
            print(f"wadofarm: {error}", file=sys.stderr)
            sys.exit(2)  # as argparse does for a bad flag
        if args.check_config:
            for spec in SPECS:
                shown = spec.show(getattr(config, spec.name))  # secrets masked
                print(f"{spec.name}={shown} ({set_by[spec.name]})")
            return
        serve(config, argv, variables)


if __name__ == "__main__":
    main()
