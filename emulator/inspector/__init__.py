"""The live inspector: a bounded record of what a WebSocket API does, and a page showing it.

:mod:`~emulator.inspector.record` keeps the record (the gateway, ``@connections`` and the
runner tell it what happens through the small interface of
:mod:`~emulator.inspector.observer`); :mod:`~emulator.inspector.server` serves the page
and streams the record to it; :mod:`~emulator.inspector.callers` finds which worker
made an ``@connections`` call.
"""
