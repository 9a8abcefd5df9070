import sys

from newsdigest.cli import main

sys.exit(main())
