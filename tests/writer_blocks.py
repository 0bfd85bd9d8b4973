"""Shared pieces of the output writers' amaranth.sim tests (tests/test_output_stage.py,
tests/test_raw_writer.py): the sequencer's block order in Python, random and edge accumulator
blocks, and testbench processes that offer blocks (random gaps) and record the memory writes."""

INT32_MIN, INT32_MAX = -2**31, 2**31 - 1
ACC_EDGES = (INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX)


def block_order(cfg, E, F, M):
    """The sequencer's blocks in order: (p0, m0), pixel blocks of ``rows`` lanes in raster order,
    channel groups of ``cols`` inside each."""
    return [(p0, m0) for p0 in range(0, E * F, cfg.rows) for m0 in range(0, M, cfg.cols)]


def element_order(cfg, E, F, M):
    """Every element inside the layer in the order the writers issue it: (p, m)."""
    return [(p0 + i, m0 + j) for p0, m0 in block_order(cfg, E, F, M)
            for i in range(cfg.rows) for j in range(cfg.cols)
            if p0 + i < E * F and m0 + j < M]


def random_acc(rng, lo=INT32_MIN, hi=INT32_MAX):
    """A random accumulator: often an edge value, else uniform or small."""
    r = rng.random()
    if r < 0.25:
        return min(hi, max(lo, rng.choice(ACC_EDGES)))
    if r < 0.5:
        return rng.randint(max(lo, -5000), min(hi, 5000))
    return rng.randint(lo, hi)


def random_blocks(cfg, rng, E, F, M, lo=INT32_MIN, hi=INT32_MAX):
    """acc[p][m] for the layer and the tile blocks holding it; lanes and channels outside the layer
    hold random values (the writers must ignore them)."""
    acc = [[random_acc(rng, lo, hi) for _ in range(M)] for _ in range(E * F)]
    blocks = []
    for p0, m0 in block_order(cfg, E, F, M):
        blocks.append([[acc[p0 + i][m0 + j] if p0 + i < E * F and m0 + j < M else random_acc(rng, lo, hi)
                        for j in range(cfg.cols)] for i in range(cfg.rows)])
    return acc, blocks


async def pulse_start(ctx, start):
    ctx.set(start, 1)
    await ctx.tick()
    ctx.set(start, 0)


def offer(stream, payloads, rng, gap, log=None):
    """A testbench process offering ``payloads`` on ``stream`` with random gaps; appends the cycle
    count of each accepted payload to ``log`` (counted by the process itself)."""
    async def process(ctx):
        for payload in payloads:
            while rng.random() < gap:
                await ctx.tick()
            ctx.set(stream.valid, 1)
            ctx.set(stream.payload, payload)
            await ctx.tick().until(stream.ready)
            if log is not None:
                log.append(payload)
            ctx.set(stream.valid, 0)
    return process


def recorder(dut, writes, done_cycles, stop):
    """A process recording every memory write (addr, data) in order and the cycle of every
    ``block_done`` pulse, until ``stop[0]``."""
    async def process(ctx):
        cycle = 0
        async for _, _, en, addr, value, done in ctx.tick().sample(dut.out_en, dut.out_addr, dut.out_data,
                                                                    dut.block_done):
            if en:
                writes.append((addr, value))
            if done:
                done_cycles.append(cycle)
            cycle += 1
            if stop[0]:
                return
    return process
