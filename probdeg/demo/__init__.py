"""``probdeg demo``: the whole method on a small real-world SR task, start to finish, with a report.

See :func:`run_demo` and ``docs/RESULTS.md``.
"""

from .plan import BUDGETS, Budget
from .runner import DemoConfig, DemoResult, run_demo

__all__ = ["BUDGETS", "Budget", "DemoConfig", "DemoResult", "run_demo"]
