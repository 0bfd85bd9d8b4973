"""Build RV32I firmware with the PyPI ``ziglang`` (clang + lld) into an ELF and RAM images.

    python -m firmware.build firmware/examples/hello.c [more.c ...] [-o build/firmware/hello]
                             [--imem-words 4096] [--dmem-words 4096] [--no-runtime] [-O -Os]

Every C/assembly source is compiled for ``riscv32-freestanding-none`` with ``-mcpu=generic_rv32``
(RV32I only: no M, no C) and linked with the linker script ``firmware/link.ld``, whose memory
regions are filled in from :class:`hw.cpu.soc_ram.MemoryMap` (the same object the harness is built
from). The runtime (``crt0.S``, ``lib/io.c``, ``lib/libc.c``) is added unless ``runtime=False``
(self-contained assembly tests bring their own ``_start``). Memory-mapped register addresses reach
C and assembly as ``-DSOC_PRINT_ADDR=...``/``-DSOC_FINISH_ADDR=...``.

Outputs in ``out_dir`` (default ``build/firmware/<name>/``): ``<name>.elf`` and per RAM
a flat binary ``<name>.imem.bin``/``.dmem.bin`` and a word list ``<name>.imem.hex``/``.dmem.hex``
(one 8-digit hex word per line, ``$readmemh`` format). :func:`build` returns a
:class:`FirmwareImage` whose ``imem``/``dmem`` word lists go straight into ``SocRam(imem, dmem)``.

A build is skipped when ``<name>.stamp`` shows the same command, sources and headers as before.

Toolchain traps handled here (see the project's toolchain notes): ``-Wl,-Ttext`` is refused, so a
linker script places the code; ``.eh_frame``, ``.comment`` and ``.riscv.attributes`` are discarded;
``-nostdlib`` links no compiler-rt, so ``lib/libc.c`` brings ``__mulsi3``/``__divsi3``/... and the
``mem*`` functions; ``-fno-builtin`` keeps clang from turning those loops back into calls to
themselves; ``-g`` keeps the symbol table (zig strips it otherwise; the RAM images do not change), and
``-mno-relax`` avoids linker relaxation against an undefined global pointer; zig's lld takes no
``-Map``.
"""

import argparse
import fcntl
import hashlib
import json
import string
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hw.cpu.soc_ram import MEMORY_MAP, MemoryMap

from .elf import read_elf

__all__ = ["FIRMWARE", "FirmwareImage", "build", "compiler_command", "main"]

FIRMWARE = Path(__file__).resolve().parent
ROOT = FIRMWARE.parent
RUNTIME = [FIRMWARE / "crt0.S", FIRMWARE / "lib" / "io.c", FIRMWARE / "lib" / "libc.c"]
TARGET = ["-target", "riscv32-freestanding-none", "-mcpu=generic_rv32"]
CFLAGS = ["-nostdlib", "-ffreestanding", "-fno-builtin", "-ffunction-sections", "-fdata-sections",
          "-fno-unwind-tables", "-fno-asynchronous-unwind-tables", "-mno-relax", "-g", "-Wall", "-Wextra"]


@dataclass(frozen=True)
class FirmwareImage:
    """A linked program: the ELF and the initial contents of both RAMs."""
    name: str
    elf: Path
    entry: int
    imem: list = field(repr=False)    # 32-bit words from imem_base
    dmem: list = field(repr=False)    # 32-bit words from dmem_base
    symbols: dict = field(repr=False)

    def symbol(self, name):
        if name not in self.symbols:
            raise KeyError(f"symbol {name!r} is not in {self.elf}")
        return self.symbols[name]


def compiler_command():
    return [sys.executable, "-m", "ziglang", "cc"]


def _words(image_bytes):
    padded = image_bytes + bytes(-len(image_bytes) % 4)
    return [int.from_bytes(padded[i:i + 4], "little") for i in range(0, len(padded), 4)]


def _place(segments, base, words, region):
    """Bytes of the segments inside [base, base + 4 * words), from base up to the last byte used."""
    size = 4 * words
    inside = [s for s in segments if base <= s.addr < base + size]
    if not inside:
        return b""
    end = max(s.addr + len(s.data) for s in inside)
    if end > base + size:
        raise ValueError(f"the program needs {end - base} bytes of {region}, which holds {size}")
    image = bytearray(end - base)
    for s in inside:
        image[s.addr - base:s.addr - base + len(s.data)] = s.data
    return bytes(image)


def _include_dirs(flags):
    flags = list(flags)
    return [Path(flags[i + 1]) for i, flag in enumerate(flags[:-1]) if flag == "-I"]


def _build_key(cmd, sources, include_dirs):
    digest = hashlib.sha256(json.dumps(cmd).encode())
    files = list(RUNTIME) + list(sources) + [FIRMWARE / "link.ld"]
    for directory in include_dirs:
        files += sorted(Path(directory).glob("*.h"))
    for path in files:
        digest.update(str(path).encode() + b"\0" + Path(path).read_bytes())
    return digest.hexdigest()


def build(sources, name=None, out_dir=None, *, imem_words=4096, dmem_words=4096,
          memory_map: MemoryMap = MEMORY_MAP, opt="-Os", runtime=True, defines=None, extra_flags=()):
    """Compile and link ``sources`` (C, .S) into a :class:`FirmwareImage`."""
    sources = [Path(s) for s in sources]
    if not sources:
        raise ValueError("sources is empty: give at least one C or assembly file")
    for s in sources:
        if not s.exists():
            raise FileNotFoundError(f"firmware source {s} does not exist")
    for label, words in (("imem_words", imem_words), ("dmem_words", dmem_words)):
        if not isinstance(words, int) or words < 1:
            raise ValueError(f"{label} must be a positive integer, not {words!r}")
    name = name or sources[0].stem
    out_dir = Path(out_dir) if out_dir else ROOT / "build" / "firmware" / name
    out_dir.mkdir(parents=True, exist_ok=True)

    mm = memory_map
    script = string.Template((FIRMWARE / "link.ld").read_text()).substitute(
        IMEM_BASE=f"0x{mm.imem_base:08x}", IMEM_SIZE=f"0x{4 * imem_words:x}",
        DMEM_BASE=f"0x{mm.dmem_base:08x}", DMEM_SIZE=f"0x{4 * dmem_words:x}")
    digest = hashlib.sha1(script.encode()).hexdigest()[:8]
    ld = out_dir / f"link-{digest}.ld"
    if not ld.exists():
        ld.write_text(script)

    macros = {"SOC_PRINT_ADDR": f"0x{mm.print_addr:08x}", "SOC_FINISH_ADDR": f"0x{mm.finish_addr:08x}",
              "SOC_DMEM_BASE": f"0x{mm.dmem_base:08x}", "SOC_DMEM_SIZE": f"0x{4 * dmem_words:x}"}
    macros.update(defines or {})
    elf = out_dir / f"{name}.elf"
    cmd = (compiler_command() + TARGET + [opt] + CFLAGS
           + ["-I", str(FIRMWARE / "include")]
           + [f"-D{k}={v}" if v is not None else f"-D{k}" for k, v in macros.items()]
           + ["-T", str(ld), "-Wl,--gc-sections"]
           + list(extra_flags)
           + [str(s) for s in (RUNTIME if runtime else []) + sources]
           + ["-o", str(elf)])
    # Rebuild only when the command, a source or a header changed (stamp next to the ELF); a lock
    # keeps parallel test workers building the same program from racing.
    key = _build_key(cmd, sources, [FIRMWARE / "include"] + _include_dirs(extra_flags))
    stamp = out_dir / f"{name}.stamp"
    with open(out_dir / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (elf.exists() and stamp.exists() and stamp.read_text() == key):
            result = subprocess.run(cmd, capture_output=True, text=True)
            if result.returncode:
                raise RuntimeError(f"firmware build of {name} failed:\n{' '.join(cmd)}\n{result.stderr}")
            stamp.write_text(key)
        image = read_elf(elf)
    for s in image.segments:
        in_imem = mm.imem_base <= s.addr < mm.imem_base + 4 * imem_words
        in_dmem = mm.dmem_base <= s.addr < mm.dmem_base + 4 * dmem_words
        if not (in_imem or in_dmem):
            raise ValueError(f"{elf}: a segment at 0x{s.addr:08x} lies outside IMEM and DMEM")
    imem_bytes = _place(image.segments, mm.imem_base, imem_words, "IMEM")
    dmem_bytes = _place(image.segments, mm.dmem_base, dmem_words, "DMEM")
    for region, data in (("imem", imem_bytes), ("dmem", dmem_bytes)):
        (out_dir / f"{name}.{region}.bin").write_bytes(data)
        (out_dir / f"{name}.{region}.hex").write_text("".join(f"{w:08x}\n" for w in _words(data)))
    return FirmwareImage(name=name, elf=elf, entry=image.entry, imem=_words(imem_bytes),
                         dmem=_words(dmem_bytes),
                         symbols={k: v for k, v in image.symbols.items() if not k.startswith((".L", "$"))})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m firmware.build", description=__doc__.split("\n\n")[0])
    parser.add_argument("sources", nargs="+", help="C and assembly (.S) files")
    parser.add_argument("-o", "--out-dir", help="output directory (default build/firmware/<name>)")
    parser.add_argument("-n", "--name", help="base name of the outputs (default: first source's stem)")
    parser.add_argument("--imem-words", type=int, default=4096)
    parser.add_argument("--dmem-words", type=int, default=4096)
    parser.add_argument("-O", dest="opt", default="-Os", help="optimisation flag (default -Os)")
    parser.add_argument("--no-runtime", action="store_true", help="no crt0/io/libc (sources bring _start)")
    args = parser.parse_args(argv)
    image = build(args.sources, args.name, args.out_dir, imem_words=args.imem_words,
                  dmem_words=args.dmem_words, opt=args.opt, runtime=not args.no_runtime)
    print(f"{image.elf}: entry 0x{image.entry:08x}, IMEM {4 * len(image.imem)} bytes, "
          f"DMEM {4 * len(image.dmem)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
