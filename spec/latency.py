"""Pipeline latencies of the conv engine: the one copy the cycle model, the driver and the gateware use.

Each constant names the hardware stage it counts. The gateware takes or checks these values when it
is elaborated (hw/mac_tile.py, hw/requantizer.py, hw/line_buffer.py, and the engine's sequencer,
output stage, raw writer and control), so a pipeline change that is not made here too fails at
elaboration instead of making spec/cycle_model.py silently wrong. Pure Python, no imports.

Path of an element, with the cycles each stage adds::

    CTRL.start write --START_LATENCY--> datapath start
    sequencer S0 -> S1 -> S2 (line-buffer read, LB_READ_LATENCY) [-> S3 operand register]
      -> MacTile (TILE_LATENCY: operand, product (PRODUCT_LATENCY), accumulate registers)
      -> serializer -> O1, O2 (PARAM_STAGES) -> Requantizer (REQUANT_LATENCY)
      -> P1 .. P5 (POOL_STAGES) -> output memory
    raw output: serializer select --RAW_WRITE_LATENCY--> output memory write
"""

__all__ = ["START_LATENCY", "LB_READ_LATENCY", "LB_ROW_LATENCY", "PRODUCT_LATENCY", "TILE_LATENCY",
           "PARAM_STAGES", "REQUANT_STAGES", "REQUANT_LATENCY", "REQUANT_SERIAL_STAGES",
           "REQUANT_AFTER_SERIAL", "MULTIPLIER_WIDTH", "POOL_STAGES", "RAW_WRITE_LATENCY",
           "LOOKAHEAD", "SMALL_GAP", "serial_digit_bits", "requant_cycles_per_element"]

#: hw/conv_engine.py: an accepted CTRL.start write -> the datapath's start pulse (one register).
START_LATENCY = 1

#: hw/line_buffer.py: read address (sequencer S2) -> lane data (synchronous memory read port).
LB_READ_LATENCY = 1
#: hw/line_buffer.py: the filler reads a row's last word -> write stage -> ``rows_loaded`` counts it.
LB_ROW_LATENCY = 2

#: hw/products.py ProductArray (and hw/ice40_products.py): operands -> registered products.
PRODUCT_LATENCY = 1
#: hw/mac_tile.py: operand registers, products (PRODUCT_LATENCY), accumulators; an accepted
#: ``last`` beat -> ``o.valid``.
TILE_LATENCY = 1 + PRODUCT_LATENCY + 1

#: hw/output_stage.py: O1 (per-channel parameter read) and O2 (output address), between the
#: serializer and the requantizer.
PARAM_STAGES = 2

#: hw/requantizer.py STAGES: its register stages in pipeline order (all registered in the engine).
REQUANT_STAGES = ("bias", "lshift", "mul", "mid", "sum", "high", "round", "rshift", "zp", "clamp")
#: hw/requantizer.py: accepted element -> result, with every stage registered.
REQUANT_LATENCY = len(REQUANT_STAGES)
#: hw/requantizer.py: the stages the digit-serial multiplier unit replaces.
REQUANT_SERIAL_STAGES = ("mul", "mid", "sum", "high")
#: hw/requantizer.py: register stages after the digit-serial unit (round, rshift, zp, clamp).
REQUANT_AFTER_SERIAL = len(REQUANT_STAGES) - REQUANT_STAGES.index("high") - 1
#: hw/requantizer.py: bits of the quantized multiplier (unsigned, 0 .. 2^31 - 1).
MULTIPLIER_WIDTH = 31

#: hw/output_stage.py POOL_STAGES (P1 .. P5): requantizer output -> output-memory write.
POOL_STAGES = 5

#: hw/raw_writer.py WRITE_LATENCY: element select -> output-memory write register.
RAW_WRITE_LATENCY = 1


def LOOKAHEAD(rows):
    """hw/conv_sequencer.py, lookahead sequencer: cycles from loading a block until the next
    block's lanes are ready (one lane step per cycle, then three for its input-row window); a
    block with fewer beats waits at its last beat."""
    return rows + 4


def SMALL_GAP(rows):
    """hw/conv_sequencer.py, compact sequencer: cycles from a block's last beat (or the start
    pulse) to the next block's first beat: ``rows`` lane steps, the check of the last lane, the
    span check."""
    return rows + 3


def serial_digit_bits(mul_cycles):
    """hw/requantizer.py: bits of the multiplier the digit-serial unit consumes per cycle
    (``mul_cycles`` = k > 1): ceil(31 / k)."""
    return -(-MULTIPLIER_WIDTH // mul_cycles)


def requant_cycles_per_element(mul_cycles):
    """hw/requantizer.py ``cycles_per_element``: 1 for the parallel multiplier (``mul_cycles`` = 1),
    ceil(31 / ceil(31 / k)) for the digit-serial one."""
    if mul_cycles == 1:
        return 1
    return -(-MULTIPLIER_WIDTH // serial_digit_bits(mul_cycles))
