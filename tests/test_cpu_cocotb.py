"""RV32I core: cocotb on the generated Verilog of the RAM harness (Verilator by default, SIM=icarus).

One simulator build (SocRam with loader and trace ports) runs every program: they are written into
the RAMs through the loader port, so changing a program never rebuilds the simulator.

    CPU_LOCKSTEP_INSNS=<n>   instructions compared with unicorn (default 10000; the serial core,
                             ~20x the cycles per instruction, runs a fifth of them unless FULL=1)

Every test runs on both cores (hw.cpu.soc_ram.CORES): the multi-cycle Core and the bit-serial
SerialCore, one simulator build each. ``test_serial_core_ebr_cells`` runs the ISA programs once more
on the serial core as elaborated for the iCE40 (its register file as two SB_RAM40_4K instances,
simulated with Yosys's cells_sim.v).
"""

import json

import pytest

from firmware.build import build as build_firmware
from hw.cpu.soc_ram import CORES, SocRam
from sim.options import cpu_lockstep_instructions, full
from sim.runner import BUILD, build, run_cocotb
from tb.cpu_programs import DATA, PROGRAMS, isa_programs

pytestmark = pytest.mark.cocotb
cores = pytest.mark.parametrize("core", CORES)


def _design(core, ice40_cells=False):
    if ice40_cells:
        from boards.netlist import NetlistPlatform
        from sim.netlist import cells_sim_path
        from sim.runner import simulator_name
        # cells_sim.v's default port values need NO_ICE40_DEFAULT_ASSIGNMENTS on Icarus 11 (see
        # tests/test_ice40_products.py build_with_sources); every port here is tied
        lint = ["-Wno-lint", "-Wno-style", "-Wno-MULTIDRIVEN"] if simulator_name() == "verilator" else []
        return build(SocRam(loader=True, trace=True, core=core), top="cpu_soc_ram",
                     tag=f"rv32i-{core}-ice40", extra_sources=[cells_sim_path()],
                     platform=NetlistPlatform(), defines={"NO_ICE40_DEFAULT_ASSIGNMENTS": 1},
                     build_args=lint)
    return build(SocRam(loader=True, trace=True, core=core), top="cpu_soc_ram",
                 tag="rv32i" if core == "multicycle" else f"rv32i-{core}")


@cores
def test_cpu_isa_programs(tmp_path, seed, core):
    from sim.runner import simulator_name
    if core == "serial" and simulator_name() == "icarus":
        pytest.skip("~90 s on Icarus (the C programs at ~46 cycles per instruction): Icarus runs the "
                    "serial core's assembly programs in test_serial_core_ebr_cells")
    programs = isa_programs(PROGRAMS)
    assert len(programs) >= 20
    path = tmp_path / "programs.json"
    path.write_text(json.dumps(programs))
    run_cocotb(_design(core), "tb.cpu_tb", run_name=f"isa-{core}-seed{seed}", testcase="isa_programs",
               params={"programs": str(path), "seed": seed, "core": core}, seed=seed)


@cores
def test_cpu_lockstep_unicorn(seed, core):
    pytest.importorskip("unicorn")
    instructions = cpu_lockstep_instructions()
    params = {"instructions": instructions, "seed": seed, "core": core}
    if core == "serial" and not full():
        params.update(instructions=instructions // 5, body_length=600)
    report = BUILD / "reports" / ("cpu_cpi.json" if core == "multicycle" else f"cpu_cpi_{core}.json")
    params["report"] = str(report)
    run_cocotb(_design(core), "tb.cpu_tb", run_name=f"lockstep-{core}-seed{seed}",
               testcase="lockstep_random", params=params, seed=seed)
    table = json.loads(report.read_text())
    print(f"\n{table['instructions']} instructions matched unicorn; CPI per class:")
    for name, row in table["measured"].items():
        print(f"  {name:18} {row['cpi']:.2f}  ({row['count']} instructions)")
    print(f"  overall            {table['overall_cpi']:.2f}")


@cores
def test_cpu_cfu(tmp_path, seed, core):
    image = build_firmware([DATA / "cfu_check.c"], out_dir=PROGRAMS / "cfu_check")
    path = tmp_path / "cfu_check.json"
    path.write_text(json.dumps({"imem": image.imem, "dmem": image.dmem}))
    run_cocotb(_design(core), "tb.cpu_tb", run_name=f"cfu-{core}-seed{seed}", testcase="cfu_random",
               params={"firmware": str(path), "seed": seed, "length": 600, "core": core}, seed=seed)


def test_serial_core_ebr_cells(tmp_path, seed, core="serial"):
    """The assembly programs (every RV32I class and trap; the C programs are left to
    test_cpu_isa_programs) on the register file's SB_RAM40_4K cells."""
    design = _design(core, ice40_cells=True)
    assert design.verilog.read_text().count("SB_RAM40_4K ") == 2
    path = tmp_path / "programs.json"
    path.write_text(json.dumps([p for p in isa_programs(PROGRAMS) if not p["name"].endswith(".c")]))
    run_cocotb(design, "tb.cpu_tb", run_name=f"isa-{core}-ice40-seed{seed}", testcase="isa_programs",
               params={"programs": str(path), "seed": seed, "core": core}, seed=seed)
