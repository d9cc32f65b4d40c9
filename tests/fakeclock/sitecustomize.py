"""Put on PYTHONPATH by `pytest --fake-now` only: a `digest` subprocess a test starts runs on the
same faked clock as the test itself (the offset from the real clock is passed in the
environment), so a story told across processes agrees on what day it is."""

import os

_offset = os.environ.get("DIGEST_TEST_CLOCK_OFFSET")
if _offset:
    import time

    import time_machine

    time_machine.travel(time.time() + float(_offset), tick=True).start()
