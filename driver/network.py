"""golden/network.py layers -> driver ConvLayers, so a network description runs on the accelerator.

``conv_layer_from_golden(layer, x, pool=None, config=None)`` maps one golden layer and its input
tensor to a :class:`driver.conv_layer.ConvLayer` (the requantisation parameters exactly as LiteRT
derives them, ``layer.requant()``):

  * Conv2D           stride (U, U), dilation 1, SAME/VALID
  * DepthwiseConv2D  as a conv with block-diagonal weights (the driver maps it onto channel groups)
  * FullyConnected   as a 1x1 conv on a 1x1 image, or, when the input length K exceeds the
                     generator's max_channels, as an R x S conv covering an R x S x C' image with
                     K = R*S*C' (the same sum of products in the same integer arithmetic)
  * a following MaxPool2D / AvgPool2D with 2x2 windows, stride 2, VALID is fused (``pool=``)

Anything else raises ValueError naming what the accelerator cannot do (e.g. dilation 2, stride
(1, 2), a 3x3 pool). ``accelerator_layers(net, x)`` walks a whole Network and yields the fused
layers with their golden inputs and expected outputs.
"""

import numpy as np

from golden import network as gn
from spec.config import AcceleratorConfig

from .conv_layer import ConvLayer, conv_from_depthwise

__all__ = ["conv_layer_from_golden", "fc_geometry", "accelerator_layers"]


def fc_geometry(K, config: AcceleratorConfig):
    """(R, S, C) with R*S*C = K to run a K-input fully connected layer as a conv: (1, 1, K) when
    K <= max_channels, else the largest C that fits (S*C within the line buffer)."""
    cfg = config
    if K <= cfg.max_channels:
        return 1, 1, K
    for C in range(min(K, cfg.max_channels), 0, -1):
        if K % C:
            continue
        rs = K // C
        for R in range(1, cfg.max_kernel + 1):
            if rs % R == 0 and rs // R <= cfg.max_kernel and (rs // R) * C <= cfg.lb_line_bytes:
                return R, rs // R, C
    raise ValueError(f"a fully connected layer with K = {K} inputs cannot be written as an R x S x C conv "
                     f"with R, S <= max_kernel = {cfg.max_kernel} and C <= max_channels = {cfg.max_channels}")


def _pool_mode(pool, act_min, act_max):
    if pool is None:
        return "none"
    if not isinstance(pool, (gn.MaxPool2D, gn.AvgPool2D)):
        raise ValueError(f"only MaxPool2D / AvgPool2D can be fused after a conv, not {type(pool).__name__}")
    if tuple(pool.filter_size) != (2, 2) or tuple(pool.stride) != (2, 2) or pool.padding != "VALID":
        raise ValueError(f"the accelerator fuses 2x2 stride-2 VALID pooling only, not filter_size = "
                         f"{pool.filter_size}, stride = {pool.stride}, padding = {pool.padding!r}")
    lo, hi = pool.act_range()
    if lo > act_min or hi < act_max:
        raise ValueError(f"the pool's activation range [{lo}, {hi}] would clamp the conv's [{act_min}, "
                         f"{act_max}] again: not fusable")
    return "max" if isinstance(pool, gn.MaxPool2D) else "avg"


def conv_layer_from_golden(layer, x, pool=None, config: AcceleratorConfig = None) -> ConvLayer:
    """One golden layer (Conv2D, DepthwiseConv2D, FullyConnected) with its int8 input ``x`` (NHWC,
    N = 1, or HWC) as a ConvLayer; ``pool`` an optional following 2x2/2 VALID pool to fuse."""
    cfg = config or AcceleratorConfig()
    x = np.asarray(x)
    if x.dtype != np.int8:
        raise ValueError(f"x must be int8, not {x.dtype}")
    if isinstance(layer, gn.FullyConnected):
        K = layer.weights.shape[1]
        if x.size != K:
            raise ValueError(f"x has {x.size} elements; the accelerator runs a fully connected layer on one "
                             f"input row of K = {K} (batch 1)")
    elif x.ndim == 4:
        if x.shape[0] != 1:
            raise ValueError(f"x.shape = {x.shape}: the accelerator runs one image (N = 1) per layer")
        x = x[0]
    mult, shift, act_min, act_max = layer.requant()
    M = layer.out_channels
    bias = np.zeros(M, np.int32) if layer.bias is None else np.asarray(layer.bias, np.int32)
    common = dict(bias=bias, multiplier=np.asarray(mult, np.int64), shift=np.asarray(shift, np.int64),
                  input_zp=layer.input.zero_point, output_zp=layer.output.zero_point,
                  act_min=act_min, act_max=act_max, pool=_pool_mode(pool, act_min, act_max))
    if isinstance(layer, gn.FullyConnected):
        R, S, C = fc_geometry(layer.weights.shape[1], cfg)
        return ConvLayer(x=np.ascontiguousarray(x.reshape(R, S, C)), w=layer.weights.reshape(M, R, S, C),
                         **common)
    if isinstance(layer, gn.Conv2D):        # DepthwiseConv2D is a Conv2D subclass
        if tuple(layer.dilation) != (1, 1):
            raise ValueError(f"dilation = {layer.dilation} is not supported by the accelerator (only 1)")
        if layer.stride[0] != layer.stride[1]:
            raise ValueError(f"stride = {layer.stride} is not supported: the accelerator has one stride U "
                             f"for both directions")
        common.update(stride=int(layer.stride[0]), padding=layer.padding)
        if isinstance(layer, gn.DepthwiseConv2D):
            return conv_from_depthwise(x, layer.weights, layer.depth_multiplier, **common)
        return ConvLayer(x=x, w=layer.weights, **common)
    raise ValueError(f"{type(layer).__name__} does not run on the accelerator (conv, depthwise conv and "
                     f"fully connected layers do, with an optional fused 2x2 pool)")


def accelerator_layers(net, x, config: AcceleratorConfig = None):
    """Walk ``net`` on input ``x`` with golden/: yields (indices of the golden layers covered,
    ConvLayer, expected output) for every conv-like layer (a following 2x2/2 pool fused), so each
    can be run on the accelerator and compared with the golden network's own intermediate output.
    Reshape layers are applied on the way; other layers raise ValueError."""
    outs = gn.run_network(net, x, return_all=True)
    inputs = [x] + outs[:-1]
    i = 0
    while i < len(net.layers):
        layer = net.layers[i]
        if isinstance(layer, gn.Reshape):
            i += 1
            continue
        nxt = net.layers[i + 1] if i + 1 < len(net.layers) else None
        pool = None
        if isinstance(nxt, (gn.MaxPool2D, gn.AvgPool2D)):
            try:
                _pool_mode(nxt, *layer.requant()[2:])
                pool = nxt
            except ValueError:
                pool = None
        conv = conv_layer_from_golden(layer, inputs[i], pool=pool, config=config)
        last = i + (pool is not None)
        expected = outs[last]
        shape = conv.output_hw()
        if pool is not None:
            shape = (shape[0] // 2, shape[1] // 2)
        yield tuple(range(i, last + 1)), conv, np.asarray(expected).reshape(*shape, -1)
        i = last + 1
