"""Train with BasicSR and probdeg registered:  python train.py -opt options/tiny/deg_deresnet_prob.yml

The same as `probdeg train -opt FILE` (same flags, one-line errors, exit codes): options are read safely and
experiments go under ./experiments (the current directory).
"""

import sys

from probdeg.cli import main

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
