"""What ``probdeg demo`` trains and scores: the budgets, the stage-1 generators, the offline LR they make, the stage-2
methods and the rows of the paper's Tables 1-3. Plain data; :mod:`probdeg.demo.runner` runs it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..checks import is_count
from ..errors import UserError


@dataclass(frozen=True)
class Budget:
    """Training iterations per stage.

    Attributes:
        name: ``quick``, ``full`` or ``custom``.
        stage1_iters: iterations of each degradation GAN.
        stage2_iters: iterations of each SR training (every one starts from random weights).
    """

    name: str
    stage1_iters: int
    stage2_iters: int

    def __post_init__(self) -> None:
        for what in ("stage1_iters", "stage2_iters"):
            value = getattr(self, what)
            if not is_count(value):
                raise UserError(f"{what} must be a positive integer, got {value!r}")

    @staticmethod
    def parse(text: str) -> Budget:
        """A named budget (``quick``, ``full``) or ``STAGE1,STAGE2`` iterations (a ``custom`` one)."""
        if text in BUDGETS:
            return BUDGETS[text]
        try:
            stage1, stage2 = (int(v) for v in text.split(","))
        except ValueError:
            raise UserError(f"budget must be one of {', '.join(BUDGETS)} or STAGE1,STAGE2 iterations, "
                             f"got {text!r}") from None
        return Budget("custom", stage1, stage2)

    @property
    def folder(self) -> str:
        """A folder name for runs on this budget."""
        return self.name if self.name != "custom" else f"iters_{self.stage1_iters}_{self.stage2_iters}"


# Wall times on 2 CPU cores are in docs/RESULTS.md#setup. Stage 1 gets 1600 iterations: doubling them from 800 raised
# every method that learns from a generator, on 3 seeds and an unseen task (docs/results-history.md), for 2 more
# minutes. Stage 2 gets 3600 with the presets' EMA and bfloat16 forwards, in the time the demo's schedule and the
# bicubic reference freed, adopted by a rule fixed in advance (docs/investigations.md, investigation 1: the figures).
# A fresh full demo: 17.3-18.2 min (14.4 at 2800).
BUDGETS = {"quick": Budget("quick", 100, 200), "full": Budget("full", 1600, 3600)}


@dataclass(frozen=True)
class GeneratorRun:
    """A stage-1 training: a degradation generator from a tiny preset (with ``overrides``, more ``--set`` ones;
    ``cost``: one iteration's relative cost, against one compact SR net's step, to start the longest first)."""

    key: str
    label: str
    preset: str
    stochastic: bool = True
    overrides: tuple[str, ...] = ()
    cost: float = 1.0


GENERATORS = (
    GeneratorRun("deresnet_det", "DeResnet (deterministic)", "tiny/deg_deresnet_det", stochastic=False),
    GeneratorRun("deresnet_prob", "Probabilistic DeResnet", "tiny/deg_deresnet_prob"),
    GeneratorRun("han_prob", "Probabilistic HAN", "tiny/deg_han_prob"),
)

SYNTHETIC_SAMPLES = 8
"""LR samples of every training HR image made by each probabilistic generator (one for a deterministic one), before
stage 2: the SR runs read these offline, so their time goes into SR training, not into HR-resolution generator
convolutions (DeResnet at 128-pixel crops would cost three times the SR step)."""

TRUE = "true"
"""The synthetic folder of the task's true degradation (the oracle's LR), made when the task is the built-in one."""


@dataclass(frozen=True)
class SRRun:
    """A stage-2 training from a tiny preset (from random weights).

    Attributes:
        key: name of the run (``demo_sr_<key>`` is its experiment).
        preset: the tiny preset it starts from.
        sources: per SR model, the synthetic LR folders it learns from (generator keys or :data:`TRUE`; several: one
            drawn per sample); ``None`` keeps the preset's own source (bicubic).
        overrides: further ``--set`` overrides.
        num_models: K, when it differs from the preset's.
        hr_from_lr: train on the real LR images as HR (SimUSR).
        cost: one iteration's relative cost, against one compact SR net's step (to start the longest first).
    """

    key: str
    preset: str
    sources: Optional[tuple[tuple[str, ...], ...]]
    overrides: tuple[str, ...] = ()
    num_models: Optional[int] = None
    hr_from_lr: bool = False
    cost: float = 1.0

    @property
    def oracle(self) -> bool:
        return any(TRUE in keys for keys in self.sources or ())


BOTH = ("deresnet_prob", "han_prob")
SR_RUNS = (
    SRRun("bicubic_lr", "tiny/sr_bicubic", None),
    SRRun("single_det", "tiny/sr_single_det", (("deresnet_det",),)),
    SRRun("single_prob", "tiny/sr_single_prob", (("deresnet_prob",),)),
    # Two independent models on the union of both generators' LR: model 0 is the naive combination, the mean of both
    # its ensemble (the paper's control that CL's gain is not the ensemble's).
    SRRun("naive", "tiny/sr_naive", (BOTH, BOTH), overrides=("collab:lambda_col=0",), num_models=2, cost=4),
    SRRun("cl_synth", "tiny/mssr_cl_synth", (("deresnet_prob",), ("han_prob",)), cost=4),
    # Two nets, each stepped on its synthetic batch and on the real LR's pseudo-labels.
    SRRun("mssr", "tiny/mssr", (("deresnet_prob",), ("han_prob",)), cost=6),
    SRRun("simusr", "tiny/simusr", None, hr_from_lr=True),
    # A diagnostic only a synthetic task allows: the same SR training on LR made by the true degradation.
    SRRun("oracle", "tiny/sr_single_prob", ((TRUE,),)),
)


@dataclass(frozen=True)
class Row:
    """One scored method: an SR run's ensemble (``model=None``) or one of its models, or bicubic upscaling."""

    key: str
    label: str
    run: Optional[str]
    model: Optional[int] = None


ROWS = (
    Row("bicubic", "Bicubic upscaling", None),
    Row("bicubic_lr", "SR on bicubic LR", "bicubic_lr"),
    Row("single_det", "DeResnet (deterministic)", "single_det"),
    Row("single_prob", "Probabilistic DeResnet", "single_prob"),
    Row("naive", "Naive combination", "naive", model=0),
    Row("naive_ensemble", "Naive combination (ensemble)", "naive"),
    Row("cl_synth", "CL (synthetic domain only)", "cl_synth"),
    Row("mssr", "CL (MSSR)", "mssr"),
    Row("simusr", "SimUSR", "simusr"),
    Row("oracle", "Oracle: SR on the true degradation", "oracle"),
)

# The paper's tables, as (title, [(row key, label in that table)]).
TABLE1 = ("Table 1: deterministic vs probabilistic degradation generator (same SR net, one degradation)",
          [("single_det", "(a) DeResnet"), ("single_prob", "(b) Probabilistic DeResnet")])
TABLE2 = ("Table 2: effects of collaborative learning (CL)",
          [("naive", "Naive combination"), ("naive_ensemble", "Naive combination (ensemble)"),
           ("cl_synth", "CL (synthetic domain only)"), ("mssr", "CL")])
TABLE3 = ("Table 3: comparison with the baselines",
          [("bicubic", "Bicubic"), ("bicubic_lr", "SR on bicubic LR"), ("single_det", "DASR-style (DeResnet)"),
           ("simusr", "SimUSR"), ("mssr", "MSSR (ours)")])
