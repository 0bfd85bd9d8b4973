# CNN accelerator generator: the three flows (Verilog, regression, synthesis) and their set-up.
# Every target first creates or refreshes the local virtual environment .venv from pyproject.toml,
# so on a fresh machine with Python >= 3.11, g++ and make nothing else has to be installed.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= 2
BOARD  ?= icebreaker
# Simulators for the cocotb tests: Verilator always, Icarus too when it is installed.
SIMS   ?= verilator $(if $(shell command -v iverilog 2>/dev/null),icarus)

.PHONY: all venv verilog test test-netlist test-golden test-cocotb synth lint bench report demo train cpu-test cpu-synth firmware docs bench-soc mlperf clean distclean help
N ?= 5

all: verilog

help:
	@echo "make verilog              elaborate the default configuration into build/verilog/"
	@echo "make test                 whole regression: golden + amaranth.sim unit tests, cocotb on $(SIMS)"
	@echo "make test-netlist         the synthesised iCE40 SoC netlist runs a conv layer (slow: ~6 min from clean)"
	@echo "make synth BOARD=icebreaker|ulx3s-85f [DESIGN=soc|soc-8x8|engine|tile|tile-generic|...] [SEEDS=1,2,3] [DSP=auto|on|off]"
	@echo "                          default DESIGN=soc: RV32I + accelerator + UART demo firmware -> build/synth/<board>-soc/top.bin|bit"
	@echo "make lint                 ruff + verilator --lint-only on the generated Verilog"
	@echo "make bench                whole layers in RTL simulation: cycles, utilisation, cycle model"
	@echo "make report [SYNTH=1] [README=1]  build/reports/report.md + .json (stamped with the commit); README=1: README's table"
	@echo "make bench-soc            SoC: firmware runs layers on the accelerator and in C, speedup"
	@echo "make demo N=5             digits CNN as firmware on the SoC RTL (simulation), build/reports/demo.png"
	@echo "make mlperf [INPUTS=n] [TILES='4x4 8x8'] [MODELS='a.tflite ...']  MLPerf Tiny models on the SoC RTL vs TFLite Micro"
	@echo "make train                retrain models/digits_int8.tflite (NumPy, seeded)"
	@echo "make docs                 command map -> docs/commands.md, C header -> build/include/cnn_accel.h"
	@echo "make clean                remove build/ (keeps .venv); make distclean removes .venv too"
	@echo "variables: SIM=verilator|icarus NETLIST_SIM=verilator|icarus WAVES=1 SEED=<n> FULL=1 JOBS=<n> IMAGES=<n> (bench.digits)"
	@echo "           (the environment options, their defaults and allowed values: sim/options.py)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
		"Python >= 3.11 is needed, $(PYTHON) is " + sys.version.split()[0])'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	@touch $@

venv: $(STAMP)

verilog: $(STAMP)
	$(PY) -m hw.generate --out build/verilog

# The whole regression. Python-only tests and the cocotb tests on every simulator in SIMS.
test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m "not cocotb" tests
	@for sim in $(SIMS); do \
		echo "== cocotb regression on $$sim"; \
		SIM=$$sim $(PY) -m pytest -n $(JOBS) -m "cocotb and not netlist" tests || exit $$?; \
	done

# Gate-level: the iCE40 SoC after synth_ice40 (Yosys's cell models) runs one conv layer through the
# firmware; outputs bit-exact with golden (docs/netlist.md). NETLIST_SIM=verilator|icarus.
test-netlist: $(STAMP)
	$(PY) -m pytest -s -m netlist tests/test_soc_netlist.py

test-golden: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests/golden tests/conformance

test-cocotb: $(STAMP)
	$(PY) -m pytest -n $(JOBS) -m "cocotb and not netlist" tests

synth: $(STAMP)
	$(PY) -m boards.synth --board $(BOARD) $(if $(DESIGN),--design $(DESIGN)) \
		$(if $(SEEDS),--seeds $(SEEDS)) $(if $(DSP),--dsp $(DSP))

# Whole layers in RTL simulation: cycles, utilisation, cycle-model check -> build/reports/bench.json;
# then the SoC: accelerator vs software on the RV32I core -> build/reports/soc_bench.json; then the
# digits CNN as firmware on the SoC (accuracy, cycles per inference, speedup) -> digits_bench.json
bench: $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.soc
	$(PY) -m bench.digits $(if $(IMAGES),--images $(IMAGES))

# One page from what synth and bench measured: build/reports/report.md and report.json, stamped
# with the git commit. SYNTH=1 first builds every board's default design (long); README=1 also
# replaces the results table in README.md (between the results:begin / results:end comments).
report: $(STAMP)
	$(if $(SYNTH),for b in icebreaker ulx3s-85f; do $(MAKE) --no-print-directory synth BOARD=$$b || exit $$?; done)
	$(PY) -m bench.report $(if $(README),--readme README.md)

# The SoC: a conv layer on the accelerator vs plain C on the RV32I core -> build/reports/soc_bench.json
bench-soc: $(STAMP)
	$(PY) -m bench.soc

# The MLPerf Tiny look-alikes (models/mlperf_tiny.py) as firmware on the SoC RTL: cycles per inference,
# utilisation, every output byte against TFLite Micro -> build/reports/mlperf.json
mlperf: $(STAMP)
	$(PY) -m bench.mlperf $(if $(INPUTS),--inputs $(INPUTS)) $(if $(TILES),--tiles $(TILES)) \
		$(if $(MODELS),--files $(MODELS))

# The digits CNN as firmware on the SoC RTL (simulation): N held-out images, build/reports/demo.png
demo: $(STAMP)
	$(PY) -m demo -n $(N)

# The RV32I core: ISA tests, lock-step with unicorn; its size on the iCE40; the example firmware
cpu-test: $(STAMP)
	$(PY) -m pytest -n $(JOBS) tests/test_cpu_asm.py tests/test_cpu_units.py tests/test_cpu_firmware.py tests/test_cpu_cocotb.py

# CORE=serial: the bit-serial core of the UP5K board SoC (without instret, as on the board)
cpu-synth: $(STAMP)
	$(PY) -m boards.cpu_synth $(if $(CORE),--core $(CORE)) $(if $(filter serial,$(CORE)),--no-instret)

firmware: $(STAMP)
	$(PY) -m firmware.build firmware/examples/hello.c

# The command map, generated from spec/registers.py: the Markdown table and the C header
docs: $(STAMP)
	$(PY) -m driver.c_header --markdown docs/commands.md --header build/include/cnn_accel.h

# Retrain models/digits_int8.tflite (NumPy, seeded: the same bytes every time)
train: $(STAMP)
	$(PY) -m models.train_digits

lint: $(STAMP) verilog
	$(PY) -m ruff check hw golden sim tb boards tests driver bench compiler models demo firmware
	$(PY) -m sim.lint build/verilog/*.v

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV)
