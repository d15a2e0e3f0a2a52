"""What every stage script does first and last: resolve the configuration, set up logging, the
device and the process group, and turn the framework's errors into one line and a non-zero exit;
``--help`` prints the stage's docstring, its command-line form and the configuration keys it reads.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable

import torch
import yaml

from config import Config, ConfigError, key_comments, load_config, split_argv, to_dict
from utils.engine import runtime

logger = logging.getLogger(__name__)


def _user_errors() -> tuple[type, ...]:
    from dataloader.reader import DataError
    from utils.artifact import ArtifactError
    from utils.engine.checkpoint import CheckpointError

    # FloatingPointError: the training loop's non-finite loss (a learning rate or input problem)
    return ConfigError, DataError, ArtifactError, CheckpointError, FloatingPointError


def error_line(exc: BaseException) -> str:
    """The one line a user error is reported with.

    An exception re-raised from a DataLoader worker carries "Caught DataError in DataLoader worker
    process 0." and the worker's traceback; its last line holds the original message.
    """
    text = str(exc).strip()
    lines = text.splitlines()
    if lines and lines[0].startswith("Caught ") and "DataLoader worker" in lines[0]:
        last = lines[-1]
        prefix = f"{type(exc).__module__}.{type(exc).__name__}: "
        return last[len(prefix):] if last.startswith(prefix) else last.split(": ", 1)[-1]
    if isinstance(exc, PermissionError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}; make it writable or set output_root to a writable folder"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.strerror}: {exc.filename}"
    return lines[0] if lines else type(exc).__name__


def setup(argv: list[str], allowed_flags: tuple[str, ...] = ()) -> tuple[Config, set[str], torch.device]:
    """Parse `argv` (--config FILE, key=value …, --flags), configure logging, device, DDP and seeds.

    A flag not in `allowed_flags` is refused (``--resume`` would otherwise be silently ignored).
    """
    config_file, overrides, flags = split_argv(argv)
    unknown = sorted(flags - set(allowed_flags))
    if unknown:
        valid = f"valid flags: {', '.join('--' + f for f in allowed_flags)}; " if allowed_flags else ""
        raise ConfigError(f"unknown flag(s) {', '.join('--' + f for f in unknown)}; {valid}settings are key=value "
                          f"overrides (e.g. resume=true) and --config FILE")
    cfg = load_config(overrides, config_file)
    logging.basicConfig(level=logging.INFO if runtime.rank() == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    device = runtime.select_device(cfg.runtime.device)
    runtime.init_distributed(device)
    runtime.seed_everything(cfg.seed)
    torch.backends.cudnn.benchmark = False
    return cfg, flags, device


def call(main: Callable[[list[str]], object], argv: list[str]) -> int:
    """Run a stage's `main(argv)` in this process (no torch re-import) and return its exit status.

    A user error writes one line "error: …" on stderr and gives 1. User errors are the framework's
    exceptions (configuration, data, artifact, checkpoint), an OS error on a named path (missing,
    permissions, not a folder), a non-finite loss, and ``SystemExit("message")`` raised by a script.
    """
    try:
        main(argv)
        return 0
    except SystemExit as exc:
        if isinstance(exc.code, str):
            _write_error(exc.code)
            return 1
        return exc.code or 0
    except _user_errors() as exc:
        _write_error(error_line(exc))
        return 1
    except OSError as exc:  # a path that cannot be read or written
        if not exc.filename:
            raise
        _write_error(error_line(exc))
        return 1


COMMON_KEYS = ("experiment", "profile", "output_root", "seed")  # every stage: where it writes, which preset, seed


def help_text(main: Callable, argv: list[str], reads: tuple[str, ...] | None = None,
              flags: dict[str, str] | None = None) -> str:
    """The ``--help`` text of a stage script: its docstring, the command-line form and every configuration key it
    reads (``reads``: top-level keys or whole sections; None = every key) with its current value, resolved as a
    run would from ``--config FILE`` and the ``key=value`` overrides given next to --help, and its comment in
    configuration.yml."""
    script = f"{main.__module__}.py" if main.__module__ != "__main__" else sys.argv[0].rsplit("/", 1)[-1]
    doc = (sys.modules[main.__module__].__doc__ or "").strip()
    config_file, overrides, _ = split_argv([a for a in argv if a not in ("--help", "-h")])
    values = _flatten(to_dict(load_config(overrides, config_file)))
    comments = key_comments()
    wanted = None if reads is None else COMMON_KEYS + tuple(reads)
    keys = [k for k in values if wanted is None or k in wanted or k.split(".")[0] in wanted]
    flags = flags or {}
    flag_lines = [f"  {'--' + flag:<18} {what}" for flag, what in flags.items()] + ["  --help, -h         this message"]
    lines = [doc, "", f"usage: python {script} [--config FILE] [key=value | section.key=value …]"
                      f"{' ' + ' '.join('[--' + f + ']' for f in flags) if flags else ''}",
             "  --config FILE      a configuration file instead of configuration.yml (its `profile` applies on top)",
             "  key=value          override one key, e.g. seed=1 pose2d.epochs=5 data.cameras=[0,1]",
             *flag_lines, "",
             "configuration keys this stage reads (value now: configuration.yml < config/<profile>.yml < --config "
             "< key=value):"]
    width = min(44, max(len(f"{k}={_show(values[k])}") for k in keys))
    lines += [f"  {k + '=' + _show(values[k]):<{width}}  # {comments.get(k, '')}".rstrip(" #") for k in keys]
    return "\n".join(lines) + "\n"


def _flatten(tree: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in tree.items():
        out.update(_flatten(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _show(value) -> str:
    """A value as it is typed on the command line (YAML flow style: [S1, S9], true, '')."""
    return yaml.safe_dump(value, default_flow_style=True, width=1 << 16).strip().removesuffix("\n...").strip()


def run(main: Callable[[list[str]], object], reads: tuple[str, ...] | None = None,
        flags: dict[str, str] | None = None) -> None:
    """Call `main(sys.argv[1:])` and exit with its status (see `call`): a user error is one line and 1.

    ``--help`` (or ``-h``) prints :func:`help_text` instead and exits 0: ``reads`` names the configuration keys
    or sections the stage reads (None = every key), ``flags`` the --flags it takes besides --config (flag → what it does).
    """
    if {"--help", "-h"} & set(sys.argv[1:]):
        try:
            sys.stdout.write(help_text(main, sys.argv[1:], reads, flags))
        except ConfigError as exc:
            _write_error(error_line(exc))
            raise SystemExit(1) from None
        return
    status = 1
    try:
        status = call(main, sys.argv[1:])
    finally:
        runtime.cleanup_distributed(synchronise=status == 0)
    if status:
        raise SystemExit(status)


def _write_error(message: str) -> None:
    message = message.strip().splitlines()[0] if message.strip() else "unknown error"
    message = message[len("error: "):] if message.startswith("error: ") else message
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()
