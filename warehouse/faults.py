"""Named fault points for crash-safety tests.

When ``CRISISRISK_FAULT_POINT`` names a point, reaching it writes the file named by
``CRISISRISK_FAULT_MARKER`` and then blocks, so a test can SIGKILL the process at exactly that moment.
Unset (always, in production), a fault point does nothing.
"""

from __future__ import annotations

import time
from pathlib import Path

from warehouse import settings


def fault_point(name: str) -> None:
    if settings.get("CRISISRISK_FAULT_POINT") != name:
        return
    marker = settings.get("CRISISRISK_FAULT_MARKER")
    if marker:
        Path(marker).write_text(name)
    time.sleep(float(settings.get("CRISISRISK_FAULT_SLEEP")))
