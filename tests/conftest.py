import os

import pytest

from adcost import threads

# Fewer threads: the suite runs on 2 cores, often beside other work.
os.environ.setdefault("OMP_NUM_THREADS", "1")
threads.apply()   # ADCOST_THREADS=N make test: the limit before any framework is imported


def pytest_collection_modifyitems(config, items):
    """Tests that need a framework that is not installed are skipped with the reason."""
    from adcost.frameworks.base import missing_reason

    for item in items:
        for mark in item.iter_markers("needs"):
            for name in mark.args:
                reason = missing_reason(name)
                if reason:
                    item.add_marker(pytest.mark.skip(reason=reason))



@pytest.fixture(autouse=True)
def _environment_restored():
    """What a test's code adds to os.environ (the timing defaults a CLI entry point applies:
    sweep.apply_timing_defaults) does not reach the tests after it in the same process."""
    before = dict(os.environ)
    yield
    for key in set(os.environ) - set(before):
        del os.environ[key]
    os.environ.update(before)
