# Shared pieces of the benchmark scripts (sourced, not run).

# Installs runc and runsc (Debian packages) when they are missing; tools/install-deps lists them too.
bench_need_runtimes() {
  local missing=()
  command -v runc >/dev/null || missing+=(runc)
  command -v runsc >/dev/null || missing+=(runsc)
  ((${#missing[@]})) || return 0
  echo "installing ${missing[*]} for the comparison ..." >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# bench_table DIR "rt1 rt2 ..." "case1 case2 ...": DIR/<rt>.<round> hold "<case> <iterations> <value>"
# lines, DIR/<rt>.na a reason why that runtime has no figures, DIR/<rt>@<case>.na why it has none for that
# case. Prints one row per case (the median over rounds) with the ratios the project tracks. An optional
# fourth argument names the unit of the values (default ns/op).
bench_table() {
  python3 - "$1" "$2" "$3" "${4:-ns/op}" <<'PY'
import glob, os, statistics, sys
d, runtimes, order, unit = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4]
vals, na = {}, {}
for rt in runtimes:
    p = os.path.join(d, rt)
    if os.path.exists(p + ".na"):
        na[rt] = open(p + ".na").read().strip()
    samples = {}
    for path in sorted(glob.glob(p + ".[0-9]*")):
        if path.endswith(".err"): continue
        for line in open(path):
            f = line.split()
            if len(f) == 3:
                try: samples.setdefault(f[0], []).append(float(f[2]))
                except ValueError: continue
    vals[rt] = {c: statistics.median(v) for c, v in samples.items()}
def cell(rt, c):
    if rt in na: return na[rt] if c == order[0] else "n/a"
    v = vals[rt].get(c)
    if v is not None: return f"{v:.1f}"
    why = os.path.join(d, f"{rt}@{c}.na")
    return open(why).read().strip() if os.path.exists(why) else "n/a (no result)"
def ratio(a, b, c):
    x, y = vals.get(a, {}).get(c), vals.get(b, {}).get(c)
    return f"{x / y:.2f}" if x is not None and y else "n/a"
cols = ["case"] + [f"{rt} {unit}" for rt in runtimes]
ratios = [(a, b) for a, b in (("bulwark", "runsc"), ("bulwark-base", "runsc"), ("bulwark", "native"), ("runc", "native"))
          if a in runtimes and b in runtimes]
cols += [f"{a}/{b}" for a, b in ratios]
rows = [[c] + [cell(rt, c) for rt in runtimes] + [ratio(a, b, c) for a, b in ratios] for c in order]
if not rows:
    print("no results:", "; ".join(f"{k}: {v}" for k, v in na.items()) or "nothing ran"); sys.exit(1)
w = [max(len(str(r[i])) for r in rows + [cols]) for i in range(len(cols))]
print(" | ".join(s.ljust(w[i]) for i, s in enumerate(cols)))
print("-|-".join("-" * x for x in w))
for r in rows: print(" | ".join(str(s).ljust(w[i]) for i, s in enumerate(r)))
for rt, why in na.items(): print(f"{rt}: {why}")
PY
}

# bench_floor DIR: medians of DIR/floor.<round> ("<case> <round trips> <ns>" from futex-floor.c).
bench_floor() {
  python3 - "$1" <<'PY'
import glob, os, statistics, sys
samples = {}
for path in sorted(glob.glob(os.path.join(sys.argv[1], "floor.*"))):
    for line in open(path):
        f = line.split()
        if len(f) == 3:
            samples.setdefault(f[0], []).append(float(f[2]))
if samples:
    print("host hand-off floor, same run (ns per round trip, median): " +
          ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in samples.items()))
PY
}
