import sys

from sitealert.cli import main

sys.exit(main())
