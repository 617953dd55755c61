import sys

from mailspy.cli import main

sys.exit(main())
