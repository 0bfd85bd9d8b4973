"""bench.report (``make report``): the numbers it derives from the synthesis and bench JSON."""

import json
import subprocess

import pytest

from bench.report import (
    BEGIN_MARKER,
    END_MARKER,
    collect,
    git_commit,
    main,
    model_utilisation,
    render_markdown,
    render_readme_section,
    replace_results,
)
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


def test_report_is_stamped_with_the_commit(tmp_path):
    report = collect(tmp_path, commit="abc1234+dirty")
    assert report["commit"] == "abc1234+dirty"
    assert "commit `abc1234+dirty`" in render_markdown(report)
    assert main(["--reports", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["commit"] == git_commit()
    assert f"commit `{data['commit']}`" in (tmp_path / "report.md").read_text()


def _git(repo, *args):
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_git_commit_short_hash_and_dirty(tmp_path):
    assert git_commit(tmp_path) == "unknown"                          # not a work tree
    _git(tmp_path, "init", "-q")
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "README.md").write_text("table\n")
    _git(tmp_path, "add", "a.py", "README.md")
    _git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    head = subprocess.run(["git", "-C", str(tmp_path), "rev-parse", "--short", "HEAD"],
                          check=True, capture_output=True, text=True).stdout.strip()
    assert git_commit(tmp_path) == head
    (tmp_path / "new.py").write_text("")                               # untracked: still clean
    assert git_commit(tmp_path) == head
    (tmp_path / "README.md").write_text("new table\n")                 # the file --readme writes
    assert git_commit(tmp_path) == head
    (tmp_path / "a.py").write_text("x = 2\n")
    assert git_commit(tmp_path) == head + "+dirty"


def test_readme_table_replaced_between_markers(tmp_path):
    (tmp_path / "synth-ulx3s-85f-soc.json").write_text(
        json.dumps(_synth("ulx3s-85f", "soc", AcceleratorConfig(), 61.5, 9000)))
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{BEGIN_MARKER}\nold table\n{END_MARKER}\n\nafter\n")
    assert main(["--reports", str(tmp_path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n" + BEGIN_MARKER)
    assert text.endswith(END_MARKER + "\n\nafter\n") and "old table" not in text
    section = text[text.index(BEGIN_MARKER):text.index(END_MARKER)]
    assert f"commit `{git_commit()}`" in section
    assert "| ulx3s-85f | soc | 4x4 | 9000/83640 |" in section
    assert "make synth BOARD=icebreaker" in section                   # what is missing is named
    assert main(["--reports", str(tmp_path), "--readme", str(readme)]) == 0
    assert readme.read_text() == text                                 # idempotent


@pytest.mark.parametrize("text", ["no markers\n", f"{BEGIN_MARKER}\n", f"{END_MARKER}\n{BEGIN_MARKER}\n",
                                  f"{BEGIN_MARKER}\n{END_MARKER}\n{BEGIN_MARKER}\n{END_MARKER}\n"])
def test_readme_markers_must_be_one_ordered_pair(text):
    with pytest.raises(ValueError, match="README markers"):
        replace_results(text, "table")


def test_readme_section_has_no_machine_paths(tmp_path):
    fail = {"status": "failed", "board": "icebreaker", "design": "soc", "error": "Yosys died"}
    (tmp_path / "synth-icebreaker-soc.json").write_text(json.dumps(fail))
    section = render_readme_section(collect(tmp_path, commit="abc1234"))
    assert "(build/reports/synth-icebreaker-soc.json)" in section and str(tmp_path) not in section
    assert section.startswith(BEGIN_MARKER) and section.endswith(END_MARKER)
