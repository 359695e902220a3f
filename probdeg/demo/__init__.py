"""``probdeg demo``: the whole method on a small real-world SR task, start to finish, with a report.

:func:`probdeg.demo.runner.run_demo` runs it; :mod:`probdeg.demo.plan` says what it trains and scores. Nothing is
imported here, so that ``probdeg demo --help`` reads the plan without loading torch.
"""
