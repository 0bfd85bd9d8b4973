"""compiler/: an int8 network (.tflite or golden Network, a graph) -> a schedule of engine layers and
core steps.

    from compiler import compile_tflite
    schedule = compile_tflite("models/kws_dscnn_int8.tflite")     # default AcceleratorConfig
    print(schedule.table())                                        # steps, where they run, cycles
    tensors = [x]                                                  # int8 input, NHWC
    for step in schedule.layers:                                   # what a host / firmware does
        inputs = [tensors[t] for t in step.sources]
        if step.runs_on == "core":                                 # ADD, SOFTMAX, pools, ...
            tensors.append(step.reference(*inputs))
            continue
        program = step.program(schedule.config, inputs[0])        # driver/program.py custom-0 stream
        responses = <run program.instructions on the CFU port>
        out, counters = program.collect(responses)
        tensors.append(out)
    y = schedule.finish(tensors[-1])

compiler/firmware.py is the firmware back end: the whole schedule as C data for the generic driver loop
firmware/net/net.c (``build_network_firmware``), which runs the network on the SoC.

See compiler/schedule.py for the lowering rules and ``python -m compiler MODEL.tflite`` for the
command line.
"""

from .schedule import CompileError, EngineLayer, HostStep, Schedule, compile_network, compile_tflite

__all__ = ["CompileError", "EngineLayer", "HostStep", "Schedule", "compile_network", "compile_tflite"]
