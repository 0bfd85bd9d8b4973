"""Run a cocotb simulation in a thread and report each image as the testbench finishes it.

The testbenches of the demo (tb/soc_net_tb.py, tb/digits_tb.py) append one JSON line per image
to a results file; the caller's ``on_result`` sees every line as soon as it is written (the demo's
progress bar), and the whole list is returned when the simulator exits.
"""

import json
import threading
import time

__all__ = ["SimRunError", "read_results", "run_with_progress"]


class SimRunError(AssertionError):
    """The simulation failed; ``results`` holds the images that finished."""

    def __init__(self, message, results):
        super().__init__(message)
        self.results = results


def read_results(path):
    """The complete JSON lines of ``path`` (a line still being written is skipped)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip().endswith("}")]


def run_with_progress(run, results, expected, on_result=None, error=SimRunError, poll_s=0.2):
    """Call ``run()`` (which runs the simulator) in a thread while reading ``results``.

    Raises ``error`` (a SimRunError subclass) when ``run`` raised or fewer than ``expected`` images
    were reported; returns the per-image result dicts.
    """
    failure = []

    def target():
        try:
            run()
        except BaseException as exc:  # reported in the calling thread
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    seen = 0
    while True:
        alive = thread.is_alive()
        done = read_results(results)
        for entry in done[seen:]:
            if on_result:
                on_result(entry)
        seen = len(done)
        if not alive:
            break
        time.sleep(poll_s)
    thread.join()
    if failure:
        raise error(str(failure[0]), done) from failure[0]
    if len(done) != expected:
        raise error(f"the testbench reported {len(done)} of {expected} images", done)
    return done
