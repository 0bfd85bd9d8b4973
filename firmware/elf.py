"""Minimal ELF32 little-endian reader: loadable segments and the symbol table (no dependencies)."""

import struct
from dataclasses import dataclass

__all__ = ["Segment", "ElfImage", "read_elf"]

PT_LOAD = 1
SHT_SYMTAB = 2
EM_RISCV = 243


@dataclass(frozen=True)
class Segment:
    addr: int          # physical (load) address
    data: bytes        # file contents, zero-extended to the memory size (.bss included)
    flags: int         # PF_X = 1, PF_W = 2, PF_R = 4


@dataclass(frozen=True)
class ElfImage:
    entry: int
    segments: tuple
    symbols: dict      # name -> value (functions, objects, linker-script symbols)
    sections: dict     # name -> (addr, size) of allocated sections


def read_elf(path_or_bytes):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else open(path_or_bytes, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 1 or data[5] != 1:
        raise ValueError("not a 32-bit little-endian ELF file")
    (e_type, e_machine, _, e_entry, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, e_shentsize, e_shnum,
     e_shstrndx) = struct.unpack_from("<HHIIIIIHHHHHH", data, 16)
    if e_machine != EM_RISCV:
        raise ValueError(f"ELF machine is {e_machine}, not RISC-V ({EM_RISCV})")
    segments = []
    for i in range(e_phnum):
        p_type, p_offset, _, p_paddr, p_filesz, p_memsz, p_flags, _ = struct.unpack_from(
            "<IIIIIIII", data, e_phoff + i * e_phentsize)
        if p_type == PT_LOAD and p_memsz:
            body = data[p_offset:p_offset + p_filesz] + bytes(p_memsz - p_filesz)
            segments.append(Segment(p_paddr, body, p_flags))
    shdrs = [struct.unpack_from("<IIIIIIIIII", data, e_shoff + i * e_shentsize) for i in range(e_shnum)]

    def strtab(index, offset):
        base = shdrs[index][4] + offset
        return data[base:data.index(b"\0", base)].decode()

    sections = {}
    symbols = {}
    for sh in shdrs:
        name = strtab(e_shstrndx, sh[0]) if e_shnum else ""
        sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, _, _, sh_entsize = sh[1:]
        if sh_flags & 2:   # SHF_ALLOC
            sections[name] = (sh_addr, sh_size)
        if sh_type == SHT_SYMTAB:
            for j in range(sh_size // sh_entsize):
                st_name, st_value = struct.unpack_from("<II", data, sh_offset + j * sh_entsize)
                if st_name:
                    symbols[strtab(sh_link, st_name)] = st_value
    return ElfImage(e_entry, tuple(segments), symbols, sections)
