#!/usr/bin/env python3
"""Makes assets/fonts/NotoSansSC-Regular-subset.otf: Noto Sans CJK SC Regular cut down to the
characters Chinese place names use (GB 2312: its 6,763 hanzi and its symbols), printable ASCII and
every non-ASCII character in scenes/ and README.md, so the viewer's panel shows them (1.5 MB
instead of the collection's 20 MB).

Needs fontTools (pip install fonttools) and Debian's fonts-noto-cjk (apt-get download
fonts-noto-cjk; dpkg-deb -x fonts-noto-cjk_*.deb x). Run from the repository's top:

    python3 tools/fonts/subset_cjk.py x/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc

The font is under the SIL Open Font License 1.1 (assets/fonts/OFL.txt).
"""
import pathlib
import subprocess
import sys
import tempfile

# In the collection: 0 JP, 1 KR, 2 SC, 3 TC, 4 HK.
SIMPLIFIED_CHINESE = 2
OUT = pathlib.Path("assets/fonts/NotoSansSC-Regular-subset.otf")


def gb2312() -> set:
    chars = set()
    # Rows 0xA1-0xA9 are symbols and full-width forms; 0xB0-0xF7 the two levels of hanzi.
    for high in list(range(0xA1, 0xAA)) + list(range(0xB0, 0xF8)):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes([high, low]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return chars


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    collection = sys.argv[1]
    chars = gb2312() | {chr(c) for c in range(0x20, 0x7F)}
    for path in list(pathlib.Path("scenes").rglob("*.ron")) + [pathlib.Path("README.md")]:
        chars |= {c for c in path.read_text(encoding="utf-8") if ord(c) >= 0x80}
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".txt", delete=False) as text:
        text.write("".join(sorted(chars)))
    subprocess.run(
        [
            "pyftsubset",
            collection,
            f"--font-number={SIMPLIFIED_CHINESE}",
            f"--text-file={text.name}",
            f"--output-file={OUT}",
            "--layout-features=",
            "--no-hinting",
        ],
        check=True,
    )
    print(f"{OUT}: {len(chars)} characters, {OUT.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
