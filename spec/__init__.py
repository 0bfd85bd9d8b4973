"""The accelerator's specification in pure Python: what gets built and the rules it follows.

* :mod:`spec.config`: the configuration objects (:class:`~spec.config.AcceleratorConfig`, the
  architecture; :class:`~spec.config.Implementation`, the FPGA primitives; :class:`~spec.config.SocConfig`,
  one whole SoC build) and the parameter checks behind their error messages.
* :mod:`spec.cycle_model`: the exact cycle count of a layer on a configuration.
* :mod:`spec.geometry`: padding, output size, the raster walk of output pixels and the input-row
  window of each block of them (the driver, the cycle model and the tests use this one copy).
* :mod:`spec.latency`: every pipeline latency of the engine, each naming its hardware stage (the
  cycle model counts with them, the gateware takes or checks them at elaboration).
* :mod:`spec.registers`: the host-visible map (address spaces, layer registers, error codes, the
  command table, the status word, the counters), from which the gateware's decoders, the driver,
  the C header and docs/commands.md are generated.

Everything above (hw/, driver/, compiler/, boards/, tb/) imports from here; this package imports
nothing of the project but itself, and no Amaranth.
"""
