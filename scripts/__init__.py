"""The chat's stack description and its deploy and destroy commands, for every target."""

import sys
from pathlib import Path

# The handlers' shared core ships at the root of the Lambda zip as ``chat``; the
# stack description reads its names from there, so make it importable as Lambda does.
_HANDLERS = str(Path(__file__).resolve().parent.parent / "handlers")
if _HANDLERS not in sys.path:
    sys.path.append(_HANDLERS)
