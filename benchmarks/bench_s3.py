"""The upload of a published tree to S3-compatible storage against a plain copy of the same files,
in the same run, to moto's S3 server on loopback (tests/distribution/s3_harness.py).

    .venv/bin/python benchmarks/bench_s3.py                 # lists of 8 + 12 + 20 MiB, 100 deltas, 256 shards
    .venv/bin/python benchmarks/bench_s3.py --scale 0.25    # a quarter of those list sizes

A tree like the one `sitealert publish` writes for a large list (three gzip lists, a delta from
each of the last 100 versions, 256 private-lookup shards; random bytes, so nothing compresses) is
uploaded four ways: the baseline, one PUT per file with 8 in parallel and no ordering, comparison
or deletion (what `aws s3 cp --recursive` does); `upload_tree` into an empty bucket; `upload_tree`
again with nothing changed; `upload_tree` after the next version. Times are seconds and ratios to
the baseline; moto stores in memory, so the ratios, not the seconds, carry over to a real service.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
                    "AWS_DEFAULT_REGION": "us-east-1"}.items():
    os.environ.setdefault(name, value)

from sitealert.distribution import s3  # noqa: E402
from tests.distribution.s3_harness import TreeWriter, moto_endpoint, tree_keys_of  # noqa: E402

LIST_MIB = {"txt": 8, "csv": 12, "json": 20}


def publish_version(tree, scale):
    v = tree.version + 1
    files = {"state.json": b'{"version": %d}' % v}
    for fmt, mib in LIST_MIB.items():
        files[f"lists/{v}.{fmt}.gz"] = os.urandom(int(mib * scale * (1 << 20)))
    for since in range(max(0, v - 100), v):
        files[f"deltas/{since}-{v}.json.gz"] = os.urandom(20_000)
    tree.publish(files, {f"hashes/{v}/{prefix:03x}": os.urandom(4000) for prefix in range(256)})


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the list sizes (default 1)")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    tree = TreeWriter(work / "tree")
    publish_version(tree, args.scale)
    endpoint, server = moto_endpoint()
    try:
        client = s3.s3_client(endpoint, "us-east-1")
        client.create_bucket(Bucket="baseline")
        client.create_bucket(Bucket="mirror")
        keys = tree_keys_of(tree.directory)
        size = sum((tree.directory / key).stat().st_size for key in keys)

        def copy(key):
            with open(tree.directory / key, "rb") as f:
                client.put_object(Bucket="baseline", Key=key, Body=f)

        def copy_all():
            with ThreadPoolExecutor(s3.CONCURRENCY) as pool:
                list(pool.map(copy, keys))

        def upload():
            return s3.upload_tree(tree.directory, "s3://mirror", client=client)

        baseline, _ = timed(copy_all)
        rows = [("plain copy, 8 in parallel (baseline)", baseline, f"{len(keys)} objects")]
        for label in ("upload_tree into an empty bucket", "upload_tree again, nothing changed"):
            seconds, report = timed(upload)
            rows.append((label, seconds, report.summary()))
        publish_version(tree, args.scale)
        seconds, report = timed(upload)
        rows.append(("upload_tree after the next version", seconds, report.summary()))
    finally:
        server.stop()

    print(f"tree: {len(keys)} files, {size / (1 << 20):.1f} MiB")
    for label, seconds, detail in rows:
        print(f"{label:40} {seconds:7.2f} s  {seconds / baseline:5.2f}x  {detail}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"files": len(keys), "bytes": size, "baseline_seconds": baseline,
                       "rows": [{"what": label, "seconds": seconds, "ratio": seconds / baseline, "detail": detail}
                                for label, seconds, detail in rows]}, f, indent=2)


if __name__ == "__main__":
    main()
