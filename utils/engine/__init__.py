"""Running a stage: ``cli`` (the command line, setup, one-line errors, ``--help``), ``runtime`` (device, DDP and
mixed precision as no-op objects when not needed), ``training`` (the fit loop every stage shares),
``checkpoint`` (atomic, complete, ``weights_only`` checkpoints), ``files`` (the one atomic writer, the one CSV
writer, file times) and ``layout`` (where each stage writes under
``checkpoint/<experiment>/`` and where the next one reads).

Knows nothing of any model or task. May import ``config``, ``utils.artifact`` and, for its error types,
``dataloader.reader``; never ``models``, ``utils.stages`` or ``utils.study``.
"""
