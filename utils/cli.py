"""What every stage script does first and last: resolve the configuration, set up logging, the
device and the process group, and turn the framework's errors into one line and a non-zero exit.
"""
from __future__ import annotations

import logging
import sys
from typing import Callable

import torch

from config import Config, ConfigError, load_config, split_argv
from utils import runtime

logger = logging.getLogger(__name__)


def _user_errors() -> tuple[type, ...]:
    from dataloader.reader import DataError
    from utils.artifact import ArtifactError
    from utils.checkpoint import CheckpointError

    return (ConfigError, DataError, ArtifactError, CheckpointError, FileNotFoundError, PermissionError)


def setup(argv: list[str]) -> tuple[Config, set[str], torch.device]:
    """Parse `argv` (--config FILE, key=value …, --flags), configure logging, device, DDP and seeds."""
    config_file, overrides, flags = split_argv(argv)
    cfg = load_config(overrides, config_file)
    logging.basicConfig(level=logging.INFO if runtime.rank() == 0 else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    device = runtime.select_device(cfg.runtime.device)
    runtime.init_distributed(device)
    runtime.seed_everything(cfg.seed)
    torch.backends.cudnn.benchmark = False
    return cfg, flags, device


def run(main: Callable[[list[str]], object]) -> None:
    """Call `main(sys.argv[1:])`; a user error becomes one line on stderr and exit status 1."""
    try:
        main(sys.argv[1:])
    except _user_errors() as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if isinstance(exc, (FileNotFoundError, PermissionError)) and getattr(exc, "filename", None):
            msg = f"{exc.strerror}: {exc.filename}"
        sys.stderr.write(f"error: {msg}\n")
        raise SystemExit(1) from None
    finally:
        runtime.cleanup_distributed()
