"""bench.report (``make report``): the numbers it derives from the synthesis and bench JSON."""

import json

import pytest

from bench.report import collect, main, model_utilisation, render_markdown
from boards.boards import BOARDS, ICE40_ENGINE_CONFIG
from spec.config import AcceleratorConfig


def _synth(board, design, config, fmax, luts, seeds=(1,), met=None, lut_avail=83640):
    target = BOARDS[board].target_mhz
    return {
        "status": "ok", "board": board, "device": "dev", "design": design, "config": config.as_dict(),
        "luts_or_lcs": {"cell": "LUT", "used": luts, "available": lut_avail},
        "ffs": {"cell": "FF", "used": 100, "available": lut_avail},
        "dsp": {"cell": "DSP", "used": 8, "available": 8},
        "ram_blocks": {"cell": "RAM", "used": 10, "available": 30},
        "spram": None, "fmax_mhz": fmax, "fmax_min_mhz": fmax - 1, "fmax_median_mhz": fmax,
        "seeds": [{"seed": s, "fmax_mhz": fmax} for s in seeds],
        "met": fmax >= target if met is None else met,
        "critical_path": {"delay_ns": 1000 / fmax, "logic_ns": 4.0, "routing_ns": 6.0,
                          "logic_segments": 7, "from_cell": "a_reg", "to_cell": "b_reg"},
    }


def _bench(config, ideal, cycles):
    return {"config": config.as_dict(), "simulator": "verilator",
            "layers": [{"ideal_cycles": i, "cycles": c} for i, c in zip(ideal, cycles, strict=True)]}


def test_peak_and_achieved_from_measured_bench(tmp_path):
    config = AcceleratorConfig()
    (tmp_path / "synth-ulx3s-85f-engine.json").write_text(
        json.dumps(_synth("ulx3s-85f", "engine", config, 80.0, 6000)))
    (tmp_path / "bench.json").write_text(json.dumps(_bench(config, [900, 100], [1000, 250])))
    report = collect(tmp_path)
    (entry,) = report["boards"]
    assert entry["peak_mmacs"] == 16 * 80.0
    assert entry["utilisation"] == pytest.approx(1000 / 1250)
    assert entry["achieved_mmacs"] == pytest.approx(16 * 80.0 * 0.8)
    assert entry["peak_mmacs_board_clock"] == 16 * 25.0
    assert "measured" in entry["utilisation_source"]
    md = render_markdown(report)
    assert "| ulx3s-85f | engine | 4x4 |" in md and "NO" in md       # 80 < 100 MHz target
    assert "critical path" in md and "`a_reg` -> `b_reg`" in md
    assert "make synth BOARD=icebreaker" in md                        # the missing board is named


def test_other_configuration_uses_the_cycle_model(tmp_path):
    (tmp_path / "synth-icebreaker-engine.json").write_text(json.dumps(
        _synth("icebreaker", "engine", ICE40_ENGINE_CONFIG, 31.0, 6159, lut_avail=5280)))
    (tmp_path / "bench.json").write_text(json.dumps(_bench(AcceleratorConfig(), [1], [2])))
    (entry,) = collect(tmp_path)["boards"]
    util, used, skipped = model_utilisation(ICE40_ENGINE_CONFIG)
    assert 0 < util <= 1 and len(used) >= 10 and entry["utilisation"] == round(util, 4)
    assert "cycle model" in entry["utilisation_source"]
    md = render_markdown(collect(tmp_path))
    assert "Does NOT fit: luts_or_lcs 6159/5280" in md


def test_default_model_utilisation_is_high():
    """The layer table's 3x3 layers are >= 95 % (issue 4's target), so the mix is well above half."""
    util, used, skipped = model_utilisation(AcceleratorConfig())
    assert not skipped and len(used) >= 10 and 0.7 < util <= 1


def test_main_writes_both_files(tmp_path, capsys):
    assert main(["--reports", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "report.json").read_text())
    assert {m["command"] for m in data["missing"]} >= {"make bench", "make synth BOARD=ulx3s-85f"}
    assert (tmp_path / "report.md").read_text().startswith("# Hardware report")


def test_design_that_does_not_fit_is_reported_as_such(tmp_path):
    fail = {"status": "failed", "board": "icebreaker", "design": "soc", "error": "over capacity",
            "fits": False, "fit": "does not fit: 8976/5280 LCs, 46/30 EBR"}
    (tmp_path / "synth-icebreaker-soc.json").write_text(json.dumps(fail))
    broken = {**fail, "design": "tile", "error": "Yosys died"}
    del broken["fits"], broken["fit"]
    (tmp_path / "synth-icebreaker-tile.json").write_text(json.dumps(broken))
    md = render_markdown(collect(tmp_path))
    assert "icebreaker / soc: **does not fit: 8976/5280 LCs, 46/30 EBR**" in md
    assert "icebreaker / tile: build FAILED: Yosys died" in md
