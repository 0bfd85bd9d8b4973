"""compiler/: an int8 network (.tflite or golden Network) -> a schedule of conv-engine layers.

    from compiler import compile_tflite
    schedule = compile_tflite("models/digits_int8.tflite")        # default AcceleratorConfig
    print(schedule.table())                                        # layers, passes, predicted cycles
    x = ...                                                        # int8 input, NHWC
    for layer in schedule.layers:                                  # what a host / firmware does
        program = layer.program(schedule.config, x)                # driver/program.py custom-0 stream
        responses = <run program.instructions on the CFU port>
        x, counters = program.collect(responses)                   # this layer's output = next input
    logits = schedule.finish(x)

compiler/firmware.py is the firmware back end: the whole schedule as C data for the generic driver loop
firmware/net/net.c (``build_network_firmware``), which runs the network on the SoC.

See compiler/schedule.py for the lowering rules (conv + 2x2/2 pool fusion, FC -> whole-input conv or
1x1 conv, RESHAPE -> no-op) and ``python -m compiler MODEL.tflite`` for the command line.
"""

from .schedule import CompileError, EngineLayer, Schedule, compile_network, compile_tflite

__all__ = ["CompileError", "EngineLayer", "Schedule", "compile_network", "compile_tflite"]
