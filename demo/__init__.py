"""demo/: ``python -m demo [-n N]`` runs the digits CNN (models/digits_int8.tflite) as firmware on the
SoC RTL in simulation (hw/soc.py: RV32I core + the accelerator on its CFU port), end to end, and checks
every logit against LiteRT and golden.

``demo.soc`` is the reusable part: any .tflite the compiler accepts, built into the network firmware
(compiler/firmware.py + firmware/net/net.c) and run image by image on the cached SoC simulator build
(tb/soc_net_tb.py is the testbench). ``demo.rtl`` runs a network through the CPU bus-functional model
instead (tb/digits_tb.py; random stalls on the CFU port), used by tests/test_digits.py.
"""
