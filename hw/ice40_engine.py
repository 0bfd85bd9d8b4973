"""Ice40ConvEngine: the conv engine with iCE40UP5K primitives (SB_MAC16 products, SPRAM memories).

Nothing of the engine changes: it is :class:`hw.conv_engine.ConvEngine` with

* the tile's products from :class:`hw.ice40_products.Ice40ProductArray` (8 SB_MAC16 in dual 8x8
  mode for 4x4 int8 products), and
* the memories named in ``spram`` (by default the input and output activation memories) placed in
  SB_SPRAM256KA single-port RAMs by :class:`hw.ice40_spram.Ice40SpramMemory`. After the engine's
  own elaboration, each of them is registered with ``platform.request_spram``; the platform's
  ``get_memory`` (the :class:`hw.ice40_spram.Ice40MemoryMapping` mixin) then builds it on SPRAM.

Single-port is safe for these two memories because the engine never uses both of their ports in
the same cycle by itself: the host writes ``act_in`` only while the engine is idle (the line buffer
reads it only while a layer runs) and reads ``act_out`` after ``done`` (the output stage writes it
only while a layer runs). A host access to one of them during a layer returns or leaves undefined
data (a read) or corrupts the running layer's reads (a write); the driver never does either.
The default takes all four SPRAMs: ``act_out`` (64 KB, 2 SPRAMs side by side for 32-bit words) is
too big for EBR, and ``act_in`` (4 KB on the UP5K) in the other pair frees 8 of the 30 EBR for the
SoC's CPU, whose instruction and data RAM stay in EBR because only EBR is initialised by the
bitstream (SPRAM would need a copy from the SPI flash at boot). The weights stay in EBR
(boards.boards.ICE40_ENGINE_CONFIG, docs/up5k.md).

Without a platform (plain simulation) the memories stay ordinary ``lib.memory`` memories; with
:class:`hw.ice40_spram.SpramSimPlatform` they are the SPRAM behavioural models.
"""

from spec.config import AcceleratorConfig

from .conv_engine import ConvEngine
from .ice40_products import Ice40ProductArray

__all__ = ["Ice40ConvEngine", "SPRAM_SAFE_MEMORIES"]

# Engine memories whose two ports are never active in the same cycle (see the module docstring).
SPRAM_SAFE_MEMORIES = ("act_in", "act_out", "weights")


class Ice40ConvEngine(ConvEngine):
    """:class:`ConvEngine` on iCE40 primitives.

    Parameters
    ----------
    config : AcceleratorConfig
    product_array : callable
        Tile product factory; default :class:`Ice40ProductArray` (primitive chosen by platform).
    spram : tuple of str
        Engine memories to place in SPRAM, a subset of :data:`SPRAM_SAFE_MEMORIES`.
    """

    def __init__(self, config: AcceleratorConfig = AcceleratorConfig(), *,
                 product_array=Ice40ProductArray, spram=("act_in", "act_out")):
        spram = tuple(spram)
        for name in spram:
            if name not in SPRAM_SAFE_MEMORIES:
                raise ValueError(f"spram = {spram!r}: {name!r} cannot be single-port; choose from "
                                 f"{', '.join(SPRAM_SAFE_MEMORIES)}")
        self._spram = spram
        super().__init__(config, product_array=product_array)

    @property
    def spram(self):
        return self._spram

    @property
    def split_output_memory(self):
        """The output memory stays one 32-bit memory when it goes to SPRAM."""
        return "act_out" not in self._spram

    @property
    def split_memories(self):
        """32-bit line-buffer lanes: byte-wide ones need at least one 4 kbit EBR each."""
        return False

    @property
    def registered_host_writes(self):
        """Host memory writes through a register stage: at 30 MHz on the UP5K the CnnCfu's command
        decode cannot also reach the SPRAM's address pins in one cycle (docs/timing.md, iCE40)."""
        return True

    @property
    def registered_start_check(self):
        """START's register checks as flip-flops: at 30 MHz on the UP5K the range compares cannot
        share a cycle with the CTRL write's decode (docs/timing.md, iCE40)."""
        return True

    def elaborate(self, platform):
        m = super().elaborate(platform)
        if self._spram and platform is not None:
            if not hasattr(platform, "request_spram"):
                raise ValueError(f"spram = {self._spram!r} needs a platform with the iCE40 memory "
                                 f"mapping (hw.ice40_spram.Ice40MemoryMapping), not "
                                 f"{type(platform).__name__}")
            for name in self._spram:
                platform.request_spram(m.submodules[name])
        return m
