"""``python -m optlab ...``: the command line, the same entry point as the ``optlab`` binary."""

import sys

from optlab._optlab import main

if __name__ == "__main__":
    sys.exit(main(["optlab", *sys.argv[1:]]))
