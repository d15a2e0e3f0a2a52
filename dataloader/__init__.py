"""The data of the study: Human3.6M conventions (``h36m``), reading a data root (``reader``), the datasets of
each stage, the 2D sources of the downstream stages and the synthetic Human3.6M (``synthetic``). May import
``utils.codecs``, ``utils.engine`` and ``utils.artifact``; never ``models`` or ``utils.stages``/``utils.study``.
"""
