"""The cube computed three ways must render the same: poslens itself, DuckDB running
`poslens cube-sql --dialect duckdb`, and Spark (local mode) running `--dialect spark` over a
partitioned Parquet copy of the same rows. Run by bench/cube_roundtrip.sh, which makes the
data and the venv; this is a check of the SQL, not a timed test.

Usage: python cube_roundtrip.py POSLENS DATA_DIR WORK_DIR TZ
"""

import filecmp
import glob
import os
import re
import subprocess
import sys
import time

poslens, data, work, tz = sys.argv[1:5]
os.makedirs(work, exist_ok=True)


def sql_for(dialect, source):
    """The generated SQL, split into its preamble and the named queries."""
    text = subprocess.run(
        [poslens, "cube-sql", "--dialect", dialect, "--tz", tz, "--source", source],
        check=True, capture_output=True, text=True,
    ).stdout
    parts = re.split(r"^-- poslens:(\w+)\n", text, flags=re.M)
    queries = {k: v.strip().rstrip(";") for k, v in zip(parts[1::2], parts[2::2])}
    preamble = [s.strip() for s in parts[0].split(";\n") if s.strip() and not s.startswith("--")]
    preamble = [re.sub(r"^--.*\n", "", s).strip().rstrip(";") for s in preamble]
    return [s for s in preamble if s], queries


def show(label, rows):
    print(f"{label} reconciliation:")
    for item, n in sorted(rows):
        print(f"  {item:40} {n}")


csv_glob = os.path.join(data, "*.csv.gz")
cubes = {}

# 1. poslens reads the logs itself: the CSV exports the SQL reads (the sample's jPOS host log
#    beside them is not CSV).
t = time.time()
cubes["poslens"] = os.path.join(work, "poslens_cube.parquet")
subprocess.run(
    [poslens, "analyze", *sorted(glob.glob(csv_glob)), "--tz", tz, "--out", os.path.join(work, "out-logs"),
     "--save-cube", cubes["poslens"]],
    check=True, capture_output=True,
)
print(f"poslens analyze (logs): {time.time() - t:.1f} s")
import json  # noqa: E402

totals = json.load(open(os.path.join(work, "out-logs", "manifest.json")))["totals"]
show("poslens", [(k, totals[k]) for k in ("rows_read", "rows_accepted", "rows_rejected",
                                          "rows_duplicate")])

# 2. DuckDB runs the generated SQL on the CSV files, and writes the partitioned Parquet copy
#    (every column as text, one folder per day) that Spark reads.
import duckdb  # noqa: E402

con = duckdb.connect()
pre, q = sql_for("duckdb", csv_glob)
for stmt in pre:
    con.execute(stmt)
t = time.time()
cubes["duckdb"] = os.path.join(work, "duckdb_cube.parquet")
con.execute(f"COPY ({q['cube']}) TO '{cubes['duckdb']}' (FORMAT parquet)")
print(f"DuckDB cube: {time.time() - t:.1f} s")
show("DuckDB", con.execute(q["reconciliation"]).fetchall())
raw = os.path.join(work, "raw_parquet")
con.execute(
    f"""COPY (SELECT *, coalesce(substr("timestamp", 1, 10), 'none') AS day
              FROM read_csv('{csv_glob}', all_varchar = true, header = true, null_padding = true))
        TO '{raw}' (FORMAT parquet, PARTITION_BY (day), OVERWRITE_OR_IGNORE)"""
)

# 3. Spark in local mode runs the generated Spark SQL on the partitioned copy.
from pyspark.sql import SparkSession  # noqa: E402

spark = (
    SparkSession.builder.master("local[2]")
    .appName("poslens-cube-roundtrip")
    .config("spark.ui.enabled", "false")
    .config("spark.ui.showConsoleProgress", "false")
    .config("spark.sql.shuffle.partitions", "8")
    .getOrCreate()
)
spark.sparkContext.setLogLevel("ERROR")
pre, q = sql_for("spark", raw)
for stmt in pre:
    spark.sql(stmt)
t = time.time()
cubes["spark"] = os.path.join(work, "spark_cube")
spark.sql(q["cube"]).coalesce(1).write.mode("overwrite").parquet(cubes["spark"])
print(f"Spark cube: {time.time() - t:.1f} s")
show("Spark", [(r[0], r[1]) for r in spark.sql(q["reconciliation"]).collect()])
spark.stop()

# 4. poslens renders each cube; the CSVs must be byte-identical.
outs = {}
for name, cube in cubes.items():
    out = os.path.join(work, f"out-{name}")
    subprocess.run(
        [poslens, "analyze", "--cube", cube, "--tz", tz, "--out", out],
        check=True, capture_output=True,
    )
    outs[name] = out
failed = False
for f in ["by_terminal.csv", "by_period.csv", "flagged_terminals.csv", "by_code.csv",
          "by_merchant.csv"]:
    paths = [os.path.join(outs[n], "csv", f) for n in outs]
    same = all(filecmp.cmp(paths[0], p, shallow=False) for p in paths[1:])
    lines = sum(1 for _ in open(paths[0]))
    print(f"{f:24} {'identical' if same else 'DIFFERENT'} across {', '.join(outs)} ({lines} lines)")
    failed |= not same
sys.exit(1 if failed else 0)
