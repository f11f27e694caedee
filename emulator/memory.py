"""Memory a start-up left free, given back to the operating system.

Deploy reads every service's model, and its look-ups run on a pool of threads; glibc's
malloc keeps what they freed afterwards (in the main heap and in each thread's arena)
for later use, and counts it in the process's resident memory until then.
``malloc_trim(0)`` hands the free pages back: at Ready, the chat's serve went from
138 MB to 125 MB resident, the example project's from 113 MB to 109 MB.
"""

from __future__ import annotations

import ctypes
import sys


def give_back() -> None:
    """Return the C heap's free pages to the OS (glibc; elsewhere there is nothing to do)."""
    if not sys.platform.startswith("linux"):
        return
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # None: not glibc (musl)
    if trim is not None:
        trim(0)
