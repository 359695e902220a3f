"""Train with BasicSR and probdeg registered:  python train.py -opt options/tiny/deg_deresnet_prob.yml

Options are read safely; experiments go under ./experiments (the current directory). Also: `probdeg train -opt FILE`.
"""

import sys

from probdeg.integrations.basicsr.pipeline import main

if __name__ == "__main__":
    main(sys.argv[1:])
