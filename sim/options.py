"""The environment options of the simulations, tests and benches: each one is parsed here only.

====================  ======================  ==============================================================
variable              values (default)        effect
====================  ======================  ==============================================================
SIM                   verilator|icarus (v.)   simulator of the cocotb builds (sim.runner, bench/, demo/)
WAVES                 0|1 (0)                 record a waveform of every cocotb run and print its path
NETLIST_SIM           verilator|icarus (v.)   simulator of the gate-level netlist test (sim.netlist)
NETLIST_DSP           0|1 (0)                 the netlist test synthesises with ``synth_ice40 -dsp``
FULL                  0|1 (0)                 the long tests: exhaustive sweeps, synthesis, retraining
SEED                  integer >= 0 (random)   replay a random test (every test prints its seed)
RANDOM_LAYERS         integer >= 1 (30)       random conv layers of the engine tests (200 with FULL=1)
DIGITS_IMAGES         integer >= 1 (3)        images of the digits CNN run on the RTL in tests
CPU_LOCKSTEP_INSNS    integer >= 1 (10000)    instructions of the CPU's lock-step test against unicorn
CONFORMANCE           quick|full (quick)      size of the golden/ conformance suite
====================  ======================  ==============================================================

An unset or empty variable takes its default. Any other value outside the allowed ones raises
``ValueError`` naming the variable, the value and what is allowed (``FULL = 'yes' is not allowed:
must be 0 or 1``). Each option is a function reading the environment when called, so the product
(bench/, demo/) and the tests read the same rule; the cocotb testbenches get their values from the
pytest side through ``sim.runner.run_cocotb``'s ``params``, never from the environment.

Pure Python: no project imports, so every layer may use it.
"""

import os

__all__ = ["SIMULATORS", "DEFAULT_SIM", "DEFAULT_NETLIST_SIM", "simulator_name", "waves_requested",
           "netlist_simulator", "netlist_dsp", "full", "seed", "random_layers", "digits_images",
           "cpu_lockstep_instructions", "conformance_full", "check_all", "summary"]

SIMULATORS = ("verilator", "icarus")
DEFAULT_SIM = "verilator"
# The faster of the two on the netlist, measured from a clean build (docs/netlist.md).
DEFAULT_NETLIST_SIM = "verilator"


def _raw(name):
    """The variable's value without surrounding blanks; None when unset or empty."""
    value = os.environ.get(name, "").strip()
    return value or None


def _flag(name):
    value = _raw(name)
    if value is None:
        return False
    if value not in ("0", "1"):
        raise ValueError(f"{name} = {value!r} is not allowed: must be 0 or 1")
    return value == "1"


def _integer(name, default, minimum):
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ValueError(f"{name} = {value!r} is not allowed: must be an integer >= {minimum}")
    return number


def _choice(name, choices, default):
    value = _raw(name)
    if value is None:
        return default
    if value.lower() not in choices:
        raise ValueError(f"{name} = {value!r} is not allowed: must be one of {', '.join(choices)}")
    return value.lower()


def simulator_name():
    """SIM: the simulator of the cocotb builds, one of :data:`SIMULATORS`."""
    return _choice("SIM", SIMULATORS, DEFAULT_SIM)


def waves_requested():
    """WAVES=1: record a waveform of every cocotb run."""
    return _flag("WAVES")


def netlist_simulator():
    """NETLIST_SIM: the simulator of the gate-level netlist, one of :data:`SIMULATORS`."""
    return _choice("NETLIST_SIM", SIMULATORS, DEFAULT_NETLIST_SIM)


def netlist_dsp():
    """NETLIST_DSP=1: synthesise the netlist with ``synth_ice40 -dsp`` (reproduces docs/netlist.md)."""
    return _flag("NETLIST_DSP")


def full():
    """FULL=1: run the long tests (exhaustive sweeps, place and route, retraining)."""
    return _flag("FULL")


def seed():
    """SEED: the seed to replay, or None for a fresh random one per test."""
    return _integer("SEED", None, 0)


def random_layers(default=None):
    """RANDOM_LAYERS: how many random conv layers a test runs (``default``: 200 with FULL=1, else 30)."""
    if default is None:
        default = 200 if full() else 30
    return _integer("RANDOM_LAYERS", default, 1)


def digits_images():
    """DIGITS_IMAGES: how many digits images the RTL tests of the CNN run."""
    return _integer("DIGITS_IMAGES", 3, 1)


def cpu_lockstep_instructions():
    """CPU_LOCKSTEP_INSNS: instructions of the CPU's lock-step comparison with unicorn."""
    return _integer("CPU_LOCKSTEP_INSNS", 10000, 1)


def conformance_full():
    """CONFORMANCE=full: the large configuration set of the golden/ conformance suite."""
    return _choice("CONFORMANCE", ("quick", "full"), "quick") == "full"


_ALL = (simulator_name, waves_requested, netlist_simulator, netlist_dsp, full, seed, random_layers,
        digits_images, cpu_lockstep_instructions, conformance_full)


def check_all():
    """Parse every option once; raise ValueError for the first bad value."""
    for option in _ALL:
        option()


def summary():
    """One line of the options in force, for a test session's header."""
    given = seed()
    return (f"SIM={simulator_name()} FULL={int(full())} "
            f"SEED={given if given is not None else '(random per test)'} RANDOM_LAYERS={random_layers()}")
