"""``python -m emulator serve …`` and the ``ws-emulator`` command: see :mod:`emulator.cli`."""

import gc
import sys

# The imports make a few hundred thousand objects that live as long as the process, and
# the cyclic collector went through them again and again while serve started (300-odd
# times, 2 or 3 of them full collections: 90 ms of the example project's start, 140 ms
# of the chat's). It is held during the imports, and what they made is set aside
# (frozen) from every later collection: 60 to 110 ms less to Ready, for the little
# garbage the imports left kept with it (0.3 MB; collecting it first took 40 ms).
gc.disable()
from emulator.cli import main  # noqa: E402

gc.freeze()
gc.enable()

if __name__ == "__main__":
    sys.exit(main())
