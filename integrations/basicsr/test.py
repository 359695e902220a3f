"""Test with BasicSR and probdeg registered:  python test.py -opt options/test_mssr.yml

Results go under ./results/<name>/ (the current directory).
"""

import sys

from probdeg.integrations.basicsr.pipeline import test_main

if __name__ == "__main__":
    test_main(sys.argv[1:])
