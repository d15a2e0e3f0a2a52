"""The study's bookkeeping (study.py = ``make demo``, compare.py, ``make readme``): ``plan`` (the stages, what
each writes, staleness), ``seeds`` (one study over several seeds), ``baselines`` (the trivial baseline of every
table), ``comparison`` (the train-source × eval-source runs and tables), ``tables`` (markdown, CSV, figures),
``summary`` (the report's generated answer), ``report`` (report.md) and ``readme`` (README.md's generated blocks).

The top layer of the library: may import ``utils.stages`` and everything below it; never a stage script.
"""
