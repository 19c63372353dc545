"""Same numbers on every supported Python: train the golden configs, compare the bytes.

    python scripts/golden_check.py train OUT [NAME ...]  # with this Python's mg
    python scripts/golden_check.py compare REF OTHER     # model.json bytes, log.jsonl sans time

NAME is a config of configs/ (default: moons spiral); compare checks every run in REF.
`train OUT binary moons spiral sine flowers mnist1d` at two commits, then compare, is the
same-bytes check a refactoring must pass.

`.ci/run` trains with Python 3.11, then with 3.12 and 3.13 (one small venv each), and
compares each with 3.11's files from the same run (SPEC section 2: bit for bit).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("moons", "spiral")


def train(out: Path, names: list[str] | tuple[str, ...] = CONFIGS) -> int:
    for name in names:
        cmd = [
            sys.executable,
            "-m",
            "microgradcli",
            "train",
            str(ROOT / "configs" / f"{name}.yaml"),
        ]
        cmd += ["--out", str(out / name), "--force", "--quiet"]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"{name}: mg train failed ({done.returncode}): {done.stderr.strip()}")
            return 1
    return 0


def _log(path: Path) -> list[str]:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        rec.pop("time", None)  # wall-clock time differs from run to run
        lines.append(json.dumps(rec))
    return lines


def compare(ref: Path, other: Path) -> int:
    rc = 0
    for name in sorted(d.name for d in ref.iterdir() if (d / "model.json").is_file()):
        a, b = ref / name, other / name
        if not (b / "model.json").is_file():
            print(f"{name}: missing in {other}")
            rc = 1
            continue
        model_same = (a / "model.json").read_bytes() == (b / "model.json").read_bytes()
        la, lb = _log(a / "log.jsonl"), _log(b / "log.jsonl")
        pairs = enumerate(zip(la, lb, strict=False))
        first = next((i for i, (x, y) in pairs if x != y), min(len(la), len(lb)))
        log_note = "SAME" if la == lb else f"DIFFERENT (from epoch {first + 1})"
        print(f"{name}: model.json {'SAME' if model_same else 'DIFFERENT'}; log {log_note}")
        if not model_same or la != lb:
            rc = 1
    return rc


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "train":
        return train(Path(argv[1]), argv[2:] or CONFIGS)
    if len(argv) == 3 and argv[0] == "compare":
        return compare(Path(argv[1]), Path(argv[2]))
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
