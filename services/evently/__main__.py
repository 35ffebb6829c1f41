import sys

from evently.cli import main

sys.exit(main())
