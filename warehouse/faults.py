"""Named fault points for crash-safety tests.

When ``CRISISRISK_FAULT_POINT`` names a point, reaching it writes the file named by
``CRISISRISK_FAULT_MARKER`` and then blocks, so a test can SIGKILL the process at exactly that moment.
Unset (always, in production), a fault point does nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def fault_point(name: str) -> None:
    if os.environ.get("CRISISRISK_FAULT_POINT") != name:
        return
    marker = os.environ.get("CRISISRISK_FAULT_MARKER")
    if marker:
        Path(marker).write_text(name)
    time.sleep(float(os.environ.get("CRISISRISK_FAULT_SLEEP", "120")))
