"""The benchmark layer table (N = 1 each). Shapes in the loop-nest notation: H W C -> M, R x S, U.

``target`` is the utilisation goal that applies to the shape (issue: >= 95 % for C, M multiples of
4 with R*S >= 9 and E*F >= 16; >= 80 % for 1x1 convs with C >= 16), None where none applies.
"""

from dataclasses import dataclass

__all__ = ["BenchLayer", "BENCH_LAYERS"]


@dataclass(frozen=True)
class BenchLayer:
    name: str
    H: int
    W: int
    C: int
    M: int
    R: int
    S: int
    U: int = 1
    padding: str = "SAME"
    kind: str = "conv"          # conv, depthwise (k = 1), fc
    pool: str = "none"

    @property
    def target(self):
        if self.kind != "conv":
            return None
        E = -(-self.H // self.U) if self.padding == "SAME" else (self.H - self.R) // self.U + 1
        F = -(-self.W // self.U) if self.padding == "SAME" else (self.W - self.S) // self.U + 1
        if self.C % 4 == 0 and self.M % 4 == 0 and self.R * self.S >= 9 and E * F >= 16:
            return 0.95
        if self.R == self.S == 1 and self.C >= 16:
            return 0.80
        return None


BENCH_LAYERS = [
    BenchLayer("conv3x3 16x16x16->16", 16, 16, 16, 16, 3, 3),
    BenchLayer("conv3x3 16x16x32->32", 16, 16, 32, 32, 3, 3),
    BenchLayer("conv3x3 32x32x8->16", 32, 32, 8, 16, 3, 3),
    BenchLayer("conv5x5 16x16x4->8 VALID", 16, 16, 4, 8, 5, 5, padding="VALID"),
    BenchLayer("conv3x3 stride2 16x16x16->32", 16, 16, 16, 32, 3, 3, U=2),
    BenchLayer("conv3x3 6x6x4->4 VALID (smallest E*F=16)", 6, 6, 4, 4, 3, 3, padding="VALID"),
    BenchLayer("conv3x3 RGB 32x32x3->16", 32, 32, 3, 16, 3, 3),
    BenchLayer("conv3x3 16x16x16->16 + maxpool", 16, 16, 16, 16, 3, 3, pool="max"),
    BenchLayer("conv1x1 16x16x16->16", 16, 16, 16, 16, 1, 1),
    BenchLayer("conv1x1 16x16x32->8", 16, 16, 32, 8, 1, 1),
    BenchLayer("conv1x1 8x8x16->4", 8, 8, 16, 4, 1, 1),
    BenchLayer("conv1x1 8x8x1->4 (1-beat blocks)", 8, 8, 1, 4, 1, 1),
    BenchLayer("depthwise3x3 16x16x32", 16, 16, 32, 32, 3, 3, kind="depthwise"),
    BenchLayer("fully connected 256->16", 4, 4, 16, 16, 1, 1, padding="VALID", kind="fc"),
]
