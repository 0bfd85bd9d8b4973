"""boards.breakdown: parsing of flattened Yosys / nextpnr netlists into a per-block table."""

import pytest

from boards.breakdown import (
    PACKER_BLOCK,
    block_of,
    count_cells,
    ebr_list,
    format_breakdown,
    format_ebr,
    instance_paths,
    kind_of,
    memories,
    rollup,
)

BLOCKS = {"soc", "soc.cpu", "soc.cpu.regfile", "soc.eng", "soc.eng.tile"}

# A flattened netlist as Yosys writes it after `synth_ice40 -noflatten; flatten`.
NETLIST = {"modules": {
    "SB_LUT4": {"attributes": {"blackbox": "1"}, "cells": {"x": {"type": "SB_LUT4"}}},
    "top": {"cells": {
        "$flatten\\soc.\\cpu.$abc$1$lut": {"type": "SB_LUT4"},
        "$flatten\\soc.\\cpu.$abc$2$lut": {"type": "SB_LUT4"},
        "$flatten\\soc.\\cpu.$auto$ff$3": {"type": "SB_DFFE"},
        "$flatten\\soc.\\cpu.\\regfile.$auto$mem$4": {"type": "SB_RAM40_4K"},
        "soc.cpu.regfile.named_ff": {"type": "SB_DFFSR"},
        "$flatten\\soc.\\eng.\\tile.$auto$c$5": {"type": "SB_CARRY"},
        "$flatten\\soc.\\eng.\\tile.mac0": {"type": "SB_MAC16"},
        "$flatten\\soc.\\eng.$abc$6$lut": {"type": "SB_LUT4"},
        "$abc$7$lut": {"type": "SB_LUT4"},
        "clk_gb": {"type": "SB_GB"},
        "$flatten\\soc.\\cpu.$scopeinfo$9": {"type": "$scopeinfo"},
    }},
}}


@pytest.mark.parametrize("cell_type, kind", [
    ("SB_LUT4", "LUT4"), ("SB_CARRY", "CARRY"), ("SB_DFF", "FF"), ("SB_DFFESR", "FF"),
    ("SB_RAM40_4K", "EBR"), ("SB_RAM40_4KNR", "EBR"), ("ICESTORM_RAM", "EBR"), ("ICESTORM_LC", "LC"),
    ("SB_SPRAM256KA", "SPRAM"), ("SB_MAC16", "DSP"), ("SB_IO", None), ("SB_GB", None)])
def test_kind_of(cell_type, kind):
    assert kind_of(cell_type) == kind


@pytest.mark.parametrize("name, block", [
    ("$flatten\\soc.\\cpu.$abc$1$lut", "soc.cpu"),
    ("$flatten\\soc.\\cpu.\\regfile.$auto$mem$4", "soc.cpu.regfile"),
    ("soc.cpu.regfile.named_ff", "soc.cpu.regfile"),
    ("$flatten\\soc.\\cpu.$abc$1$lut_LC", "soc.cpu"),       # nextpnr's packed LC name
    ("$abc$7$lut", ""),
    ("$flatten\\soc.\\cpux.$abc$1", "soc"),                  # no false prefix match
    ("$nextpnr_ICESTORM_LC_12", PACKER_BLOCK),
])
def test_block_of(name, block):
    assert block_of(name, BLOCKS) == block


def test_instance_paths():
    text = "module \\top\nend\nmodule \\top.soc\nend\nmodule \\top.soc.cpu\nend\n"
    assert instance_paths(text) == {"soc", "soc.cpu"}


def test_count_and_rollup():
    own = count_cells(NETLIST, BLOCKS)
    assert own["soc.cpu"] == {"LUT4": 2, "FF": 1}
    assert own["soc.cpu.regfile"] == {"EBR": 1, "FF": 1}
    assert own["soc.eng.tile"] == {"CARRY": 1, "DSP": 1}
    assert own[""] == {"LUT4": 1}                             # the blackbox module is skipped
    total = rollup(own, BLOCKS)
    assert total[""] == {"LUT4": 4, "FF": 2, "EBR": 1, "CARRY": 1, "DSP": 1}
    assert total["soc.cpu"] == {"LUT4": 2, "FF": 2, "EBR": 1}
    assert total["soc"] == {"LUT4": 3, "FF": 2, "EBR": 1, "CARRY": 1, "DSP": 1}


def test_format_breakdown():
    own = count_cells(NETLIST, BLOCKS)
    text = format_breakdown(own, BLOCKS, reference={"LC": 7})
    lines = text.splitlines()
    assert lines[0].split() == ["block", "LC", "LUT4", "CARRY", "FF", "EBR", "SPRAM", "DSP"]
    rows = {line[:40].strip(): line[40:].split() for line in lines[2:]}
    assert rows["total"] == ["0", "4", "1", "2", "1", "0", "1"]
    assert rows["regfile"] == ["0", "0", "0", "1", "1", "0", "0"]
    assert rows["tile"] == ["0", "0", "1", "0", "0", "0", "1"]
    assert rows["flattened build (nextpnr)"][0] == "7"
    shallow = format_breakdown(own, BLOCKS, depth=1)
    assert "regfile" not in shallow and "soc" in shallow


RTLIL = """module \\top
end
module \\top.soc.cpu.regfile
  memory width 32 size 32 \\mem
end
module \\top.soc.eng
  memory width 32 size 1024 \\act_in
  memory width 6 size 64 \\shift$132
end
"""


def test_memories_and_ebr_list():
    mems = memories(RTLIL)
    assert mems == {"soc.cpu.regfile.mem": (32, 32), "soc.eng.act_in": (1024, 32),
                    "soc.eng.shift$132": (64, 6)}
    cells = {f"soc.eng.act_in.0.{k}": {"type": "SB_RAM40_4K"} for k in range(8)}
    cells.update({"soc.cpu.regfile.mem.0.0": {"type": "SB_RAM40_4K"},
                  "soc.cpu.regfile.mem.1.0": {"type": "SB_RAM40_4KNR"},
                  "soc.eng.shift$132.0.0": {"type": "SB_RAM40_4K"},
                  "soc.eng.x": {"type": "SB_LUT4"}})
    rows = ebr_list({"modules": {"top": {"cells": cells}}}, mems)
    assert rows == [("soc.eng.act_in", 1024, 32, 8), ("soc.cpu.regfile.mem", 32, 32, 2),
                    ("soc.eng.shift$132", 64, 6, 1)]
    text = format_ebr(rows)
    assert "1024 x 32" in text and text.splitlines()[-1].split() == ["total", "11"]
