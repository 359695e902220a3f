"""Test with BasicSR and probdeg registered:  python test.py -opt options/test_mssr.yml

The same as `probdeg test -opt FILE`: results go under ./results/<name>/ (the current directory).
"""

import sys

from probdeg.cli import main

if __name__ == "__main__":
    sys.exit(main(["test", *sys.argv[1:]]))
