"""Regenerate the evaluation set in ``benchmarks/eval/data/`` (or check it is up to date).

python benchmarks/eval/generate.py           # rewrite the JSONL files
python benchmarks/eval/generate.py --check   # exit 1 if the files differ from a fresh generation
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Run as a script, this file's directory is sys.path[0]; the package lives one level up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval import dataset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with the files on disk instead of writing")
    args = parser.parse_args()
    if args.check:
        files = dataset.render(*dataset.generate())
        stale = [
            name
            for name, text in files.items()
            if not (dataset.DATA_DIR / name).exists() or (dataset.DATA_DIR / name).read_text(encoding="utf-8") != text
        ]
        for name in stale:
            print(f"out of date: {dataset.DATA_DIR / name}")
        return 1 if stale else 0
    for name, text in dataset.write().items():
        print(f"wrote {dataset.DATA_DIR / name} ({len(text.encode()):,} bytes, {text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
