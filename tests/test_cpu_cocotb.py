"""RV32I core: cocotb on the generated Verilog of the RAM harness (Verilator by default, SIM=icarus).

One simulator build (SocRam with loader and trace ports) runs every program: they are written into
the RAMs through the loader port, so changing a program never rebuilds the simulator.

    CPU_LOCKSTEP_INSNS=<n>   instructions compared with unicorn (default 10000)
"""

import json
import os

import pytest

from firmware.build import build as build_firmware
from hw.cpu.soc_ram import SocRam
from sim.runner import BUILD, build, run_cocotb
from tb.test_cpu_programs import DATA, PROGRAMS, isa_programs

pytestmark = pytest.mark.cocotb


def _design():
    return build(SocRam(loader=True, trace=True), top="cpu_soc_ram", tag="rv32i")


def test_cpu_isa_programs(tmp_path, seed):
    programs = isa_programs(PROGRAMS)
    assert len(programs) >= 20
    path = tmp_path / "programs.json"
    path.write_text(json.dumps(programs))
    run_cocotb(_design(), "tb.test_cpu", run_name=f"isa-seed{seed}", testcase="isa_programs",
               params={"programs": str(path), "seed": seed}, seed=seed)


def test_cpu_lockstep_unicorn(seed):
    pytest.importorskip("unicorn")
    instructions = int(os.environ.get("CPU_LOCKSTEP_INSNS", "10000"))
    report = BUILD / "reports" / "cpu_cpi.json"
    run_cocotb(_design(), "tb.test_cpu", run_name=f"lockstep-seed{seed}", testcase="lockstep_random",
               params={"instructions": instructions, "seed": seed, "report": str(report)}, seed=seed)
    table = json.loads(report.read_text())
    print(f"\n{table['instructions']} instructions matched unicorn; CPI per class:")
    for name, row in table["measured"].items():
        print(f"  {name:18} {row['cpi']:.2f}  ({row['count']} instructions)")
    print(f"  overall            {table['overall_cpi']:.2f}")


def test_cpu_cfu(tmp_path, seed):
    image = build_firmware([DATA / "cfu_check.c"], out_dir=PROGRAMS / "cfu_check")
    path = tmp_path / "cfu_check.json"
    path.write_text(json.dumps({"imem": image.imem, "dmem": image.dmem}))
    run_cocotb(_design(), "tb.test_cpu", run_name=f"cfu-seed{seed}", testcase="cfu_random",
               params={"firmware": str(path), "seed": seed, "length": 600}, seed=seed)
