"""Host side of the accelerator (pure Python, no simulator needed).

  layer.py       the quantised layer (ConvLayer) and its folded bias, shared by the modules below
  conv_layer.py  a quantised layer -> register values and memory images (plan_conv)
  passes.py      layers larger than the buffers -> passes with identical bits (split_layer)
  program.py     a layer -> the custom-0 instruction stream a RISC-V CPU runs (program_for_layer),
                 its checks and output assembly, and the port overhead (command_overhead)
  network.py     golden/network.py layers -> ConvLayers (conv_layer_from_golden, accelerator_layers)
  c_header.py    the C header and the Markdown command table, generated from spec/registers.py
"""
