import sys

from docket.cli import main

sys.exit(main())
