"""sim/options.py: every environment option's default, accepted values and error for a bad value."""

import pytest

from sim import options

FLAGS = [("FULL", options.full), ("WAVES", options.waves_requested), ("NETLIST_DSP", options.netlist_dsp)]
INTEGERS = [("SEED", options.seed, None, 0), ("RANDOM_LAYERS", options.random_layers, 30, 1),
            ("DIGITS_IMAGES", options.digits_images, 3, 1),
            ("CPU_LOCKSTEP_INSNS", options.cpu_lockstep_instructions, 10000, 1)]
CHOICES = [("SIM", options.simulator_name, "verilator", options.SIMULATORS),
           ("NETLIST_SIM", options.netlist_simulator, options.DEFAULT_NETLIST_SIM, options.SIMULATORS)]
ALL_NAMES = [f[0] for f in FLAGS] + [i[0] for i in INTEGERS] + [c[0] for c in CHOICES] + ["CONFORMANCE"]


@pytest.fixture
def env(monkeypatch):
    for name in ALL_NAMES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("name, option", FLAGS)
def test_flags(env, name, option):
    assert option() is False
    for text, value in [("", False), ("0", False), ("1", True), (" 1 ", True)]:
        env.setenv(name, text)
        assert option() is value
    for bad in ["yes", "true", "2", "-1", "on"]:
        env.setenv(name, bad)
        with pytest.raises(ValueError, match=rf"^{name} = '{bad}' is not allowed: must be 0 or 1$"):
            option()


@pytest.mark.parametrize("name, option, default, minimum", INTEGERS)
def test_integers(env, name, option, default, minimum):
    assert option() == default
    for value in [minimum, minimum + 1, 2**31]:
        env.setenv(name, str(value))
        assert option() == value
    for bad in [str(minimum - 1), "x", "1.5", "0x10"]:
        env.setenv(name, bad)
        message = rf"^{name} = '{bad}' is not allowed: must be an integer >= {minimum}$"
        with pytest.raises(ValueError, match=message):
            option()


def test_random_layers_follow_full(env):
    assert options.random_layers() == 30
    env.setenv("FULL", "1")
    assert options.random_layers() == 200
    assert options.random_layers(default=30) == 30
    env.setenv("RANDOM_LAYERS", "7")
    assert options.random_layers() == 7


@pytest.mark.parametrize("name, option, default, allowed", CHOICES)
def test_simulator_choices(env, name, option, default, allowed):
    assert option() == default
    for sim in allowed:
        env.setenv(name, sim.upper())
        assert option() == sim
    env.setenv(name, "modelsim")
    message = rf"^{name} = 'modelsim' is not allowed: must be one of verilator, icarus$"
    with pytest.raises(ValueError, match=message):
        option()


def test_conformance(env):
    assert options.conformance_full() is False
    env.setenv("CONFORMANCE", "full")
    assert options.conformance_full() is True
    env.setenv("CONFORMANCE", "big")
    with pytest.raises(ValueError, match="CONFORMANCE = 'big' is not allowed: must be one of quick, full"):
        options.conformance_full()


def test_check_all_reports_the_first_bad_value(env):
    options.check_all()
    assert "SIM=verilator FULL=0 SEED=(random per test)" in options.summary()
    env.setenv("RANDOM_LAYERS", "0")
    with pytest.raises(ValueError, match="RANDOM_LAYERS = '0'"):
        options.check_all()
