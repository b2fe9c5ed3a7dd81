"""Longer fuzz run of the decode boundary: mutate seed images for N minutes and print what happened.

Run by hand from the repository root::

    .venv/bin/python tests/fuzz/fuzz_decode.py --minutes 5

Same seeds and mutations as ``tests/test_fuzz_decode.py``, drawn with a seeded ``random.Random``. Every case
must end as "decoded" or "refused" (BadImageError) within ``--timeout`` seconds; anything else (another
exception, a timeout) is counted as a failure and its bytes are saved under ``--out`` for replay. The file
being decoded is always ``OUT/current.bin``, so after a hard crash (a segfault in a codec) it is the culprit.
Exit status: 0 when there were no failures, 1 otherwise.
"""

from __future__ import annotations

import argparse
import collections
import random
import resource
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.test_fuzz_decode import MUTATION_KINDS, SEEDS, apply_mutations, decode_outcome  # noqa: E402


class CaseTimeout(BaseException):
    """One decode took longer than --timeout seconds (a BaseException, so read_image cannot absorb it)."""


def _on_alarm(signum: int, frame: object) -> None:
    raise CaseTimeout


def _random_mutations(rng: random.Random) -> list[tuple[str, int, int, int]]:
    return [
        (rng.choice(MUTATION_KINDS), rng.randrange(1 << 20), rng.randrange(1 << 16), rng.randrange(1 << 12))
        for _ in range(rng.randint(1, 6))
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0, help="how long to run (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--timeout", type=int, default=10, help="seconds allowed per case (default 10)")
    parser.add_argument(
        "--out", type=Path, default=None, help="folder for failing cases (default: a temp dir)"
    )
    args = parser.parse_args(argv)

    out = args.out or Path(tempfile.mkdtemp(prefix="restore-fuzz-"))
    out.mkdir(parents=True, exist_ok=True)
    current = out / "current.bin"
    rng = random.Random(args.seed)
    names = sorted(SEEDS)
    outcomes: dict[str, collections.Counter[str]] = {name: collections.Counter() for name in names}
    failures: list[str] = []
    slowest: tuple[float, str, bytes] = (0.0, "", b"")
    signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    deadline = started + args.minutes * 60
    cases = 0
    while time.monotonic() < deadline:
        name = rng.choice(names)
        mutations = _random_mutations(rng)
        data = apply_mutations(SEEDS[name], mutations)
        current.write_bytes(data)
        case_start = time.monotonic()
        signal.alarm(args.timeout)
        try:
            outcome = decode_outcome(current)
        except CaseTimeout:
            outcome = "TIMEOUT"
        except BaseException as exc:  # noqa: BLE001 - any other exception is exactly what we look for
            if isinstance(exc, KeyboardInterrupt):
                break
            outcome = f"FAIL {type(exc).__name__}"
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            failures.append(f"{name} {mutations}: {detail}")
        finally:
            signal.alarm(0)
        elapsed = time.monotonic() - case_start
        if elapsed > slowest[0]:
            slowest = (elapsed, f"{name} {mutations}", data)
        if outcome not in ("decoded", "refused"):
            (out / f"failure_{cases:06d}_{name}.bin").write_bytes(data)
        outcomes[name][outcome] += 1
        cases += 1
    # Re-time the slowest case alone: a slow outlier on a busy machine is not necessarily a slow decoder.
    current.write_bytes(slowest[2])
    retime_start = time.monotonic()
    decode_outcome(current)
    retimed = time.monotonic() - retime_start
    current.unlink(missing_ok=True)

    wall = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"fuzz_decode: {cases} cases in {wall:.0f} s ({cases / max(wall, 1e-9):.0f}/s), seed {args.seed}")
    print(f"{'seed file':<22}{'decoded':>9}{'refused':>9}{'failed':>8}")
    totals: collections.Counter[str] = collections.Counter()
    for name in names:
        counts = outcomes[name]
        failed = sum(v for k, v in counts.items() if k not in ("decoded", "refused"))
        print(f"{name:<22}{counts['decoded']:>9}{counts['refused']:>9}{failed:>8}")
        totals.update(counts)
    failed_total = sum(v for k, v in totals.items() if k not in ("decoded", "refused"))
    print(f"{'total':<22}{totals['decoded']:>9}{totals['refused']:>9}{failed_total:>8}")
    print(
        f"slowest case: {slowest[0] * 1000:.0f} ms, {retimed * 1000:.1f} ms when re-run alone ({slowest[1]})"
    )
    print(f"peak RSS: {peak_mb:.0f} MB")
    for line in failures[:20]:
        print("FAILURE:", line)
    if failed_total:
        print(f"failing inputs saved in {out}")
    return 1 if failed_total else 0


if __name__ == "__main__":
    sys.exit(main())
