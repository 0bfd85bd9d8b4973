"""The tile's multipliers: rows x cols signed products of an activation vector and a weight vector.

This is the replaceable part of the MAC tile. The generic version below lets the synthesis tool pick
multipliers (fabric LUTs, or MULT18X18D on ECP5); an iCE40 build can swap in a version built from
SB_MAC16 blocks in dual 8x8 mode with the same signature and latency.
"""

from amaranth.hdl import Module, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from spec.config import AcceleratorConfig

__all__ = ["ProductArray", "product_array_signature"]


def product_array_signature(config: AcceleratorConfig):
    act = data.ArrayLayout(signed(config.act_width), config.rows)
    weight = data.ArrayLayout(signed(config.weight_width), config.cols)
    products = data.ArrayLayout(data.ArrayLayout(signed(config.product_width), config.cols), config.rows)
    return wiring.Signature({
        "en": In(1),          # clock enable: registers hold while low (pipeline stall)
        "act": In(act),       # act[i]: activation of output pixel i
        "weight": In(weight),  # weight[j]: weight of output channel j
        "product": Out(products),  # product[i][j] = act[i] * weight[j], one cycle after en
    })


class ProductArray(wiring.Component):
    """rows x cols registered signed multipliers (latency 1 cycle, stalls with ``en`` low).

    ``product[i][j] <= act[i] * weight[j]`` on every cycle with ``en`` high.
    """

    LATENCY = 1

    def __init__(self, config: AcceleratorConfig):
        self._config = config
        super().__init__(product_array_signature(config))

    def elaborate(self, platform):
        m = Module()
        cfg = self._config
        with m.If(self.en):
            for i in range(cfg.rows):
                for j in range(cfg.cols):
                    m.d.sync += self.product[i][j].eq(self.act[i] * self.weight[j])
        return m
