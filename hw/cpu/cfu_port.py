"""The Custom Function Unit (CFU) port, signal for signal the one of CFU Playground.

CFU Playground (google/CFU-Playground, ``python/amaranth_cfu/cfu.py``, ``docs/source/interface.rst``)
connects a CPU to a CFU with two valid/ready handshakes:

* command, CPU -> CFU: ``cmd_valid``/``cmd_ready`` with ``cmd_payload_function_id[9:0]`` =
  ``{funct7, funct3}`` of the custom-0 instruction, ``cmd_payload_inputs_0`` = rs1 and
  ``cmd_payload_inputs_1`` = rs2. The operands are valid only in the cycle the command is accepted
  (``cmd_valid & cmd_ready``).
* response, CFU -> CPU: ``rsp_valid``/``rsp_ready`` with ``rsp_payload_outputs_0`` (written to rd).

Seen from the CPU (:func:`cfu_signature`) the command goes out and the response comes in; a CFU
component uses ``cfu_signature().flip()``. ``clk``/``reset`` are the ``sync`` domain's.

This core issues one command at a time and stalls until its response (see :class:`hw.cpu.core.Core`):
``rsp_ready`` is high from the cycle the command is offered until the response arrives, so a CFU
may answer combinationally in the very cycle it accepts the command, or any number of cycles later.
"""

from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["cfu_signature", "FUNCTION_ID_WIDTH"]

FUNCTION_ID_WIDTH = 10   # {funct7[6:0], funct3[2:0]}


def cfu_signature():
    """The CFU port as seen from the CPU (flip it for the CFU side)."""
    return wiring.Signature({
        "cmd_valid": Out(1),
        "cmd_ready": In(1),
        "cmd_payload_function_id": Out(FUNCTION_ID_WIDTH),
        "cmd_payload_inputs_0": Out(32),
        "cmd_payload_inputs_1": Out(32),
        "rsp_valid": In(1),
        "rsp_ready": Out(1),
        "rsp_payload_outputs_0": In(32),
    })
