# Summarizes `ncu --csv --page raw --metrics gpu__time_duration.sum node kernel-times.mjs` output (stdout
# and ncu's lines in one file): per phase (split at the script's MARK lines), GPU time per kernel name.
import csv, re, sys, collections
lines = open(sys.argv[1], errors='replace').read().splitlines()
phase, phases, count = 'warm-up', {}, 0
for ln in lines:
    if ln.startswith('==PROF== Profiling'):
        phases[count] = phase
        count += 1
    m = re.match(r'MARK: (.*) done', ln)
    if m:
        phase = {'warm': 'encoder 1 x 512', 'encoder': 'decode batch 1 (2 steps)', 'decode 1': 'decode batch 8 (2 steps)', 'decode 8': 'after'}[m.group(1)]
start = next(i for i, ln in enumerate(lines) if ln.startswith('"ID"'))
rows = list(csv.reader(lines[start:]))
head = rows[0]
iid, iname, igrid, iblock, itime = head.index('ID'), head.index('Kernel Name'), head.index('Grid Size'), head.index('Block Size'), head.index('gpu__time_duration.sum')
unit = rows[1][itime]
agg = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0.0]))
for r in rows[2:]:
    if len(r) <= itime or not r[iid].isdigit():
        continue
    p = phases.get(int(r[iid]), '?')
    name = re.sub(r'\(.*', '', r[iname])[:60] + ' ' + r[igrid] + 'x' + r[iblock]
    a = agg[p][name]
    a[0] += 1
    a[1] += float(r[itime].replace(',', ''))
for p in ['encoder 1 x 512', 'decode batch 1 (2 steps)', 'decode batch 8 (2 steps)']:
    total = sum(v[1] for v in agg[p].values())
    n = sum(v[0] for v in agg[p].values())
    print(f'\n## {p}: {n} kernels, {total:.0f} {unit}')
    for name, (c, t) in sorted(agg[p].items(), key=lambda kv: -kv[1][1])[:40]:
        print(f'{t:12.0f} {c:5d} x {t / c:9.0f}  {name}')
