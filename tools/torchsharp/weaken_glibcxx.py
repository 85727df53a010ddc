#!/usr/bin/env python3
"""Make TorchSharp 0.107's libLibTorchSharp.so load on a libstdc++ older than GCC 13 (Debian 12: GLIBCXX_3.4.30).

The library asks for GLIBCXX_3.4.32 for one symbol only, std::ios_base_library_init() (_ZSt21ios_base_library_initv),
which GCC 13 references from every object that includes <iostream> as a link-time anchor: the symbol is never
called and no relocation refers to it. The dynamic loader still refuses the library because the version is missing.
This script edits one copy of the library (the build output's, never the NuGet cache's) in two places:

  1. the symbol's entry in .gnu.version (versym) becomes 1, VER_NDX_GLOBAL: the symbol no longer asks for a version;
  2. the GLIBCXX_3.4.32 entry (Vernaux) of .gnu.version_r gets VER_FLG_WEAK in vna_flags: a missing weak version
     is not an error for glibc's loader (_dl_check_map_versions).

It refuses to touch the file unless the facts above hold: exactly that one symbol uses the version, and no relocation
refers to it. It is idempotent (an already patched file is left alone), writes a temporary file and renames it over
the target (so a hard link into the NuGet cache is never written through), and does nothing when the system's
libstdc++ already provides GLIBCXX_3.4.32 (unless --force). Exit code 0 on success or nothing to do, 1 on refusal.

Usage: weaken_glibcxx.py [--force] [--check] PATH/libLibTorchSharp.so
  --check  only report whether the file needs (or has) the patch; write nothing.
"""

import os
import struct
import subprocess
import sys
import tempfile

SYMBOL = b"_ZSt21ios_base_library_initv"
VERSION = b"GLIBCXX_3.4.32"
VER_FLG_WEAK = 0x2
VER_NDX_GLOBAL = 1
SHT_DYNSYM, SHT_RELA, SHT_REL = 11, 4, 9
SHT_GNU_VERNEED, SHT_GNU_VERSYM = 0x6FFFFFFE, 0x6FFFFFFF


class Refusal(Exception):
    pass


def system_has_version():
    """Whether the libstdc++.so.6 the loader would pick already defines GLIBCXX_3.4.32."""
    candidates = []
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=False).stdout
        candidates += [line.split("=>")[-1].strip() for line in out.splitlines() if "libstdc++.so.6 " in line and "x86-64" in line]
    except OSError:
        pass
    candidates += ["/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6", "/usr/lib64/libstdc++.so.6"]
    for path in candidates:
        if os.path.exists(path):
            with open(path, "rb") as f:
                return VERSION + b"\0" in f.read()
    return False


def cstr(data, offset):
    end = data.index(b"\0", offset)
    return bytes(data[offset:end])


def sections(data):
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise Refusal("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    result = []
    for i in range(shnum):
        name, stype, flags, addr, offset, size, link, info, align, entsize = struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize)
        result.append({"type": stype, "offset": offset, "size": size, "link": link, "entsize": entsize})
    return result


def one(secs, stype, what):
    found = [s for s in secs if s["type"] == stype]
    if len(found) != 1:
        raise Refusal(f"expected one {what} section, found {len(found)}")
    return found[0]


def locate(data):
    """Returns (versym entry offset, current versym, vernaux flags offset, current flags, version index)."""
    secs = sections(data)
    dynsym = one(secs, SHT_DYNSYM, ".dynsym")
    dynstr = secs[dynsym["link"]]
    versym = one(secs, SHT_GNU_VERSYM, ".gnu.version")
    verneed = one(secs, SHT_GNU_VERNEED, ".gnu.version_r")
    verstr = secs[verneed["link"]]

    # The Vernaux entry of GLIBCXX_3.4.32.
    aux_flags_at, index = None, None
    entry = verneed["offset"]
    while True:
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, entry)
        aux = entry + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
            if cstr(data, verstr["offset"] + vna_name) == VERSION:
                aux_flags_at, index = aux + 4, vna_other
            aux += vna_next
        if vn_next == 0:
            break
        entry += vn_next
    if index is None:
        raise Refusal(f"the library does not ask for {VERSION.decode()}")

    count = dynsym["size"] // dynsym["entsize"]
    symbol = None
    users = []
    for i in range(count):
        st_name, = struct.unpack_from("<I", data, dynsym["offset"] + i * dynsym["entsize"])
        name = cstr(data, dynstr["offset"] + st_name)
        ver, = struct.unpack_from("<H", data, versym["offset"] + 2 * i)
        if name == SYMBOL:
            symbol = i
        elif (ver & 0x7FFF) == index:
            users.append(name.decode())
    if symbol is None:
        raise Refusal(f"no dynamic symbol {SYMBOL.decode()}")
    if users:
        raise Refusal(f"other symbols also need {VERSION.decode()}: {', '.join(users[:5])}")

    # No relocation may refer to the symbol: it must be a pure link-time anchor.
    for s in secs:
        if s["type"] in (SHT_RELA, SHT_REL) and secs[s["link"]] is dynsym:
            for r in range(s["size"] // s["entsize"]):
                info, = struct.unpack_from("<Q", data, s["offset"] + r * s["entsize"] + 8)
                if info >> 32 == symbol:
                    raise Refusal(f"a relocation refers to {SYMBOL.decode()}; clearing its version is not safe")

    versym_at = versym["offset"] + 2 * symbol
    return versym_at, struct.unpack_from("<H", data, versym_at)[0], aux_flags_at, struct.unpack_from("<H", data, aux_flags_at)[0], index


def main(argv):
    force = "--force" in argv
    check = "--check" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    path = paths[0]
    with open(path, "rb") as f:
        data = bytearray(f.read())
    try:
        versym_at, ver, flags_at, flags, index = locate(data)
    except Refusal as refusal:
        print(f"weaken_glibcxx: {path}: left as it is: {refusal}", file=sys.stderr)
        return 1

    patched = ver == VER_NDX_GLOBAL and flags & VER_FLG_WEAK
    if patched:
        print(f"weaken_glibcxx: {path}: already patched")
        return 0
    if check:
        print(f"weaken_glibcxx: {path}: not patched (needs {VERSION.decode()} for {SYMBOL.decode()}; system has it: {system_has_version()})")
        return 0
    if not force and system_has_version():
        print(f"weaken_glibcxx: {path}: not needed, the system's libstdc++ provides {VERSION.decode()}")
        return 0

    struct.pack_into("<H", data, versym_at, VER_NDX_GLOBAL)
    struct.pack_into("<H", data, flags_at, flags | VER_FLG_WEAK)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=".libLibTorchSharp.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(temp, os.stat(path).st_mode & 0o7777)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise
    print(f"weaken_glibcxx: {path}: patched ({SYMBOL.decode()} versym {ver} -> {VER_NDX_GLOBAL}; {VERSION.decode()} vna_flags {flags:#x} -> {flags | VER_FLG_WEAK:#x})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
