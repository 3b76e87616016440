"""``python -m device_runtime``: the runtime commands without torch (see device_runtime.cli)."""

import sys

from device_runtime.cli import main

if __name__ == "__main__":
    sys.exit(main())
