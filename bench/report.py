#!/usr/bin/env python3
"""Prints bench/run.sh's one table from its samples.

    python3 bench/report.py RESULTS_DIR

RESULTS_DIR/samples.tsv: "id<TAB>value" per timed run (warm-up runs are never recorded).
RESULTS_DIR/meta.env:    KEY=VALUE lines (run count, scale, fixture sizes, ...), used in labels and notes.
Rows whose id has no samples are left out (e.g. BENCH_ONLY ran a subset).
"""

import os
import statistics
import sys

# (id, label, unit, baseline id or None). Labels may use {meta} fields.
ROWS = [
    ("P1", "P1 key computation: mono tree, {mono_files} files, {mono_mb} MB; CacheOn packages/**/package.json, packages/**/*.js, yarn.lock", None, None),
    ("p1.raw_serial", "raw: xargs sha256sum, serial (file list given)", "ms", "p1.raw_par"),
    ("p1.raw_par", "raw: xargs -P{nproc} -n256 sha256sum (file list given) = BASE", "ms", "p1.raw_par"),
    ("p1.kb_compute", "ours in-process: CacheKeyCalculator.Compute, 1st call", "ms", "p1.raw_par"),
    ("p1.kb_compute_warm", "ours in-process: Compute, 2nd call (JIT warm)", "ms", "p1.raw_par"),
    ("p1.kb_glob", "  KeyBench glob expansion (.NET enumeration, not MSBuild)", "ms", "p1.raw_par"),
    ("p1.kb_parse", "  task path in-process: OptionsParser.Parse (per-file checks)", "ms", "p1.raw_par"),
    ("p1.kb_engine", "  task path in-process: CacheEngine.ComputeKeyAsync (no input stamp)", "ms", "p1.raw_par"),
    ("p1.build_wall", "ours whole: dotnet build -t:ComputeCachedImageKey (wall)", "ms", "p1.raw_par"),
    ("p1.build_eval", "  MSBuild evaluation incl. CacheOn globs (restore + build = 2 evaluations)", "ms", "p1.raw_par"),
    ("p1.build_target", "  EcrCache targets (the pipeline's tasks)" , "ms", "p1.raw_par"),
    ("p1.build_rss", "  peak RSS of the dotnet build process", "MB", None),
    ("p1.stamp_wall", "ours whole, inputs unchanged (input stamp: no file hashed) (wall)", "ms", "p1.raw_par"),
    ("p1.stamp_target", "  EcrCache targets (the pipeline's tasks): stat every file, docker version", "ms", "p1.raw_par"),

    ("P1b", "P1b glob walk: wide tree, {wide_files} files, **/package.json matches {wide_packages}", None, None),
    ("p1b.raw", "raw: find . -name package.json | xargs sha256sum = BASE", "ms", "p1b.raw"),
    ("p1b.build_wall", "ours whole: dotnet build -t:ComputeCachedImageKey (wall)", "ms", "p1b.raw"),
    ("p1b.build_eval", "  MSBuild evaluation (2 evaluations: the glob walk runs twice)", "ms", "p1b.raw"),
    ("p1b.build_target", "  EcrCache targets (the pipeline's tasks)", "ms", "p1b.raw"),
    ("p1b.norestore_wall", "ours, dotnet build --no-restore (1 evaluation) (wall)", "ms", "p1b.raw"),
    ("p1b.norestore_eval", "  MSBuild evaluation (1 evaluation)", "ms", "p1b.raw"),
    ("p1b.kb_glob", "  KeyBench .NET enumeration of the same tree (for scale)", "ms", "p1b.raw"),
    ("p1b.raw_prune", "raw: find -name node_modules -prune ... | xargs sha256sum = BASE2", "ms", "p1b.raw_prune"),
    ("p1b.excl_wall", "ours with Exclude=\"**/node_modules/**\" (wall)", "ms", "p1b.raw_prune"),
    ("p1b.excl_eval", "  MSBuild evaluation (excluded folders are not walked)", "ms", "p1b.raw_prune"),

    ("P2", "P2 hit path: image in the registry and the local daemon, fresh obj/ (no stamp), provider registry", None, None),
    ("p2.min", "minimum: curl -sfI manifest HEAD + docker image inspect = BASE", "ms", "p2.min"),
    ("p2.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p2.min"),
    ("p2.startup", "  MSBuild start-up and the rest (wall - EcrCache targets)", "ms", "p2.min"),
    ("p2.target", "  EcrCache targets (the pipeline's tasks)", "ms", "p2.min"),
    ("p2.step._EcrCacheReadOptions", "    _EcrCacheReadOptions target (ReadCachedImageOptions)", "ms", "p2.min"),
    ("p2.step.ComputeCachedImageKey", "    ComputeCachedImageKey target (its task)", "ms", "p2.min"),
    ("p2.step.ResolveCachedImageStore", "    ResolveCachedImageStore target (its task)", "ms", "p2.min"),
    ("p2.step.PullOrBuildCachedImage", "    PullOrBuildCachedImage target (its task)", "ms", "p2.min"),
    ("p2.step.ExportCachedImage", "    ExportCachedImage target (its task)", "ms", "p2.min"),
    ("p2.engine", "  engine, as logged \"EcrCache: <ref> (hit-local) in X s\"", "ms", "p2.min"),
    ("p2.floor", "MSBuild floor: same project, empty target (_EcrCacheCheckDesignTime)", "ms", "p2.min"),
    ("p2.requests", "registry requests per ours run", "req", None),
    ("p2.before", "P2 before: the same hit on the SDK at {baseline_rev} ({baseline_commit}), run by run alternating with the rows above", None, None),
    ("p2.before.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p2.min"),
    ("p2.before.startup", "  MSBuild start-up and the rest (wall - EcrCache targets)", "ms", "p2.min"),
    ("p2.before.target", "  EcrCache targets (the SDK's targets)", "ms", "p2.min"),
    ("p2.before.engine", "  engine, as logged \"EcrCache: <ref> (hit-local) in X s\"", "ms", "p2.min"),
    ("p2.before.requests", "registry requests per run", "req", None),
    ("p2.ratio", "P2 after / before: after = this checkout ({current_rev}); each run pair measured back to back", None, None),
    ("p2.ratio.wall", "ours whole (wall): after / before of each run pair", "x", "RATIO:p2.wall/p2.before.wall"),
    ("p2.ratio.target", "  EcrCache targets: after / before of each run pair", "x", "RATIO:p2.target/p2.before.target"),

    ("P2b", "P2b hit from the registry, not in the local daemon: pull ({payload_mb} MB layer, docker import image)", None, None),
    ("p2b.min", "minimum: curl -sfI manifest HEAD + docker pull = BASE", "ms", "p2b.min"),
    ("p2b.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p2b.min"),
    ("p2b.target", "  EcrCache targets (the pipeline's tasks)", "ms", "p2b.min"),
    ("p2b.requests_min", "registry requests: minimum (HEAD + docker pull)", "req", None),
    ("p2b.requests", "registry requests: ours", "req", None),

    ("P3", "P3 no-op repeat: inputs unchanged, image local, stamp present", None, None),
    ("p3.min", "minimum: docker image inspect = BASE", "ms", "p3.min"),
    ("p3.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p3.min"),
    ("p3.target", "  EcrCache targets (the pipeline's tasks)", "ms", "p3.min"),
    ("p3.step._EcrCacheReadOptions", "    _EcrCacheReadOptions target (ReadCachedImageOptions)", "ms", "p3.min"),
    ("p3.step.ComputeCachedImageKey", "    ComputeCachedImageKey target (its task)", "ms", "p3.min"),
    ("p3.step.ResolveCachedImageStore", "    ResolveCachedImageStore target (its task)", "ms", "p3.min"),
    ("p3.step.PullOrBuildCachedImage", "    PullOrBuildCachedImage target (its task)", "ms", "p3.min"),
    ("p3.step.ExportCachedImage", "    ExportCachedImage target (its task)", "ms", "p3.min"),
    ("p3.engine", "  engine, as logged \"EcrCache: ... (hit-local) in X s\"", "ms", "p3.min"),
    ("p3.requests", "registry requests during the repeat (registry access log delta)", "req", "ZERO"),
    ("p3w.bare", "bare MSBuild project, empty EnsureCachedImage target, same arguments (P3w's BASE)", "ms", "p3.min"),
    ("p3w.path", "ours whole, the SDK imported by path (no NuGet SDK resolver) (wall)", "ms", "p3.min"),
    ("p3.before", "P3 before: the same no-op on the SDK at {baseline_rev} ({baseline_commit}), run by run alternating with the rows above", None, None),
    ("p3.before.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p3.min"),
    ("p3.before.target", "  EcrCache targets (the SDK's targets)", "ms", "p3.min"),
    ("p3.before.engine", "  engine, as logged \"EcrCache: ... (hit-local) in X s\"", "ms", "p3.min"),
    ("p3.before.requests", "registry requests during the repeat (registry access log delta)", "req", "ZERO"),
    ("p3.ratio", "P3 after / before: after = this checkout ({current_rev}); each run pair measured back to back", None, None),
    ("p3.ratio.wall", "ours whole (wall): after / before of each run pair", "x", "RATIO:p3.wall/p3.before.wall"),
    ("p3.ratio.target", "  EcrCache targets: after / before of each run pair", "x", "RATIO:p3.target/p3.before.target"),

    ("P3b", "P3b no-op repeat on the P1 mono tree ({mono_files} CacheOn files, provider local)", None, None),
    ("p3b.min", "minimum: docker image inspect = BASE", "ms", "p3b.min"),
    ("p3b.wall", "ours whole: dotnet build -t:EnsureCachedImage (wall)", "ms", "p3b.min"),
    ("p3b.eval", "  MSBuild evaluation (2 evaluations)", "ms", "p3b.min"),
    ("p3b.target", "  EcrCache targets (the pipeline's tasks): input stamp, every file stat'ed, none hashed", "ms", "p3b.min"),
    ("p3b.engine", "  engine, as logged \"EcrCache: ... (hit-local) in X s\"", "ms", "p3b.min"),
    ("p3b.norestore_wall", "ours, dotnet build --no-restore (1 evaluation) (wall)", "ms", "p3b.min"),
    ("p3b.norestore_eval", "  MSBuild evaluation (1 evaluation)", "ms", "p3b.min"),

    ("P4", "P4 miss: unique BENCH_SALT build arg per run (RUN step really runs), {payload_mb} MB new layer, push to the registry", None, None),
    ("p4.raw", "raw: DOCKER_BUILDKIT=1 docker build && docker push = BASE", "ms", "p4.raw"),
    ("p4.wall", "ours whole: dotnet build -t:EnsureCachedImage, EcrCachePushLatest=false (wall)", "ms", "p4.raw"),
    ("p4.target", "  EcrCache targets (the pipeline's tasks)", "ms", "p4.raw"),
    ("p4.nolease_wall", "ours whole, EcrCacheLeaseTimeout=0 (no lock or lease, so no lease read-back to wait for) (wall)", "ms", "p4.raw"),
    ("p4.nolease_target", "  EcrCache targets (the pipeline's tasks)", "ms", "p4.raw"),
    ("p4.requests_raw", "registry requests: raw (build pulls FROM metadata, push)", "req", None),
    ("p4.requests", "registry requests: ours", "req", None),

    ("P5", "P5 memory: KeyBench over the first N files of the wide tree (--list)", None, None),
    ("p5.rss.a", "peak RSS, whole process, N={p5_a}", "MB", "p5.rss.a"),
    ("p5.rss.b", "peak RSS, whole process, N={p5_b}", "MB", "p5.rss.a"),
    ("p5.rss.c", "peak RSS, whole process, N={p5_c}", "MB", "p5.rss.a"),
    ("p5.growth.a", "  RSS growth during Compute (VmHWM - VmRSS before), N={p5_a}", "MB", None),
    ("p5.growth.b", "  RSS growth during Compute, N={p5_b}", "MB", None),
    ("p5.growth.c", "  RSS growth during Compute, N={p5_c}", "MB", None),
    ("p5.raw.c", "  time: raw xargs -P{nproc} -n256 sha256sum over the same N={p5_c} small files = BASE", "ms", "p5.raw.c"),
    ("p5.compute.c", "  time: ours, CacheKeyCalculator.Compute over them (1st call)", "ms", "p5.raw.c"),
    ("p5.alloc.c", "  managed allocations in Compute, N={p5_c}", "MB", None),
    ("p5.retained.c", "  managed heap still live after Compute (key + manifest), N={p5_c}", "MB", None),
    ("p5.rss.mono", "peak RSS, whole process, P1 mono tree ({mono_files} files, {mono_mb} MB)", "MB", "p5.rss.a"),

    ("P6", "P6 base-image digests: FROM ecrcache-bench-a:1 AS a / FROM ecrcache-bench-b:1 (docker.io) via mirror {p6_mirror}, provider local", None, None),
    ("p6.fresh_gets", "fresh obj/ (ephemeral agent): manifest GETs per key computation, upstream unchanged", "req", "ZERO"),
    ("p6.fresh_heads", "fresh obj/: manifest HEADs per key computation (one per base image)", "req", "EXACT:2"),
    ("p6.fresh_wall", "fresh obj/: dotnet build -t:ComputeCachedImageKey -v:d (wall; includes restore)", "ms", None),
    ("p6.fresh_target", "  EcrCache targets (the pipeline's tasks)", "ms", None),
    ("p6.fresh_resolve", "  digest lookups, as logged \"Resolved 2 base image digest(s) ... in X ms\"", "ms", None),
    ("p6.reval_heads", "obj/ kept, EcrCacheBaseImageDigestsCacheMinutes=0: manifest HEADs (revalidation)", "req", "EXACT:2"),
    ("p6.reval_gets", "  manifest GETs", "req", "ZERO"),
    ("p6.reval_resolve", "  the revalidating HEADs, as logged \"Resolved ... in X ms\"", "ms", None),
    ("p6.reval_target", "  EcrCache targets (the pipeline's tasks)", "ms", None),
    ("p6.reval_wall", "  dotnet build -t:ComputeCachedImageKey -v:d (wall)", "ms", None),
    ("p6.cached_requests", "obj/ kept, default window (10 min): manifest requests (no \"Resolved\" line)", "req", "ZERO"),
    ("p6.cached_target", "  EcrCache targets (the pipeline's tasks)", "ms", None),
    ("p6.cached_wall", "  dotnet build -t:ComputeCachedImageKey -v:d (wall)", "ms", None),
]


# The performance goals: (id, what, numerator ids, denominator ids, goal). A value is the ratio of the sums of the
# medians of the ids (an id with a "-" prefix is subtracted); with no denominator it is the value itself (ms).
GOALS = [
    ("P1", "cold key, whole dotnet build minus the MSBuild floor, over raw parallel sha256sum",
     ["p1.build_wall", "-p2.floor"], ["p1.raw_par"], ("x", 1.0)),
    ("P1b", "**/package.json over the wide tree, whole command, over find | xargs sha256sum",
     ["p1b.build_wall"], ["p1b.raw"], ("x", 1.5)),
    ("P3", "no-op repeat, EcrCache target time",
     ["p3.target"], None, ("ms", 40)),
    ("P3w", "no-op repeat, whole dotnet build, over a bare MSBuild project with the same arguments",
     ["p3.wall"], ["p3w.bare"], ("x", 1.5)),
    ("P3w", "  the same with the SDK imported by path (no NuGet SDK resolver)",
     ["p3w.path"], ["p3w.bare"], ("x", 1.5)),
    ("P4", "miss overhead beyond docker build && docker push and the MSBuild floor",
     ["p4.wall", "-p2.floor", "-p4.raw"], None, ("ms", 100)),
    ("P4", "  the same without the lease (EcrCacheLeaseTimeout=0)",
     ["p4.nolease_wall", "-p2.floor", "-p4.raw"], None, ("ms", 100)),
    ("P5", "peak RSS of KeyBench, N={p5_c} files over N={p5_a}",
     ["p5.rss.c"], ["p5.rss.a"], ("x", 1.3)),
]


def goal_lines(medians, meta):
    def total(ids):
        if any(i.lstrip("-") not in medians for i in ids):
            return None
        return sum(-medians[i[1:]] if i.startswith("-") else medians[i] for i in ids)

    lines = ["", "Goals (from the medians above)"]
    for gid, what, num, den, (unit, goal) in GOALS:
        n = total(num)
        d = total(den) if den else 1.0
        if n is None or d is None or d == 0:
            continue
        value = n / d
        shown = ("%.2fx" % value) if unit == "x" else ("%.0f ms" % value)
        wanted = ("<= %.1fx" % goal) if unit == "x" else ("<= %d ms" % goal)
        lines.append("%-7s %-86s %12s  goal %-9s %s" % (gid, what.format_map(meta)[:86], shown, wanted, "met" if value <= goal else "NOT MET"))
    return lines if len(lines) > 2 else []


class Meta(dict):
    def __missing__(self, key):
        return "?"


def fmt(v, unit):
    if unit == "req":
        return "%d" % v
    if unit == "MB":
        return "%.1f" % v
    if unit == "x":
        return "%.3f" % v
    return "%.0f" % v if v >= 100 else "%.1f" % v


def main():
    results = sys.argv[1]
    meta = Meta()
    with open(os.path.join(results, "meta.env")) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    samples = {}
    with open(os.path.join(results, "samples.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 2:
                samples.setdefault(parts[0], []).append(float(parts[1]))

    medians = {k: statistics.median(v) for k, v in samples.items()}
    lines = []
    title = ("EcrCache benchmarks: median of {runs} timed runs after 1 warm-up run (discarded; page cache warm), "
             "scale {scale}, {nproc} CPUs, {date}").format_map(meta)
    lines.append(title)
    header = "%-7s %-86s %9s %9s %9s %-4s %s" % ("id", "measurement", "min", "median", "max", "unit", "ratio (median / BASE)")
    lines.append(header)
    lines.append("-" * len(header))
    for rid, label, unit, base in ROWS:
        label = label.format_map(meta)
        if unit is None:
            if any(k.startswith(rid.lower() + ".") for k in samples):
                lines.append(label)
            continue
        vals = samples.get(rid)
        if not vals:
            continue
        med = medians[rid]
        if base == "ZERO":
            ratio = "OK (0 in every run)" if max(vals) == 0 else "NOT ZERO"
        elif base and base.startswith("EXACT:"):
            want = float(base.split(":", 1)[1])
            ratio = ("OK (%s in every run)" % base.split(":", 1)[1]) if min(vals) == max(vals) == want else "NOT " + base.split(":", 1)[1]
        elif base and base.startswith("RATIO:"):
            num, den = base.split(":", 1)[1].split("/")
            ratio = ("medians: %.3fx" % (medians[num] / medians[den])) if medians.get(den) else ""
        elif base and base in medians and medians[base] > 0 and base != rid:
            ratio = "%.2fx" % (med / medians[base])
        elif base == rid:
            ratio = "1.00x"
        else:
            ratio = ""
        lines.append("%-7s %-86s %9s %9s %9s %-4s %s" % (
            rid.split(".")[0][0].upper() + rid.split(".")[0][1:], label[:86], fmt(min(vals), unit), fmt(med, unit), fmt(max(vals), unit), unit, ratio))
    lines.extend(goal_lines(medians, meta))
    for note in [n for k, n in sorted(meta.items()) if k.startswith("note")]:
        lines.append("note: " + note)
    text = "\n".join(lines) + "\n"
    with open(os.path.join(results, "table.txt"), "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
