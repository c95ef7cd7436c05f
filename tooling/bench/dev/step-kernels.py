# Dev: the kernels of the last decode steps in `ncu --csv --page raw --metrics gpu__time_duration.sum node
# tooling/bench/dev/kernel-times.mjs 2` output, in launch order with their times, one step after another
# (a step begins at its embedding kernel): kernel-times ends with 2 steps at batch 1, then 2 at batch 8,
# after one encoder pass of 512 tokens (printed first, its kernels summed by name).
import csv, re, sys
lines = open(sys.argv[1], errors='replace').read().splitlines()
start = next(i for i, ln in enumerate(lines) if ln.startswith('"ID"'))
rows = list(csv.reader(lines[start:]))
head = rows[0]
iid, iname, igrid, iblock, itime = (head.index(h) for h in ('ID', 'Kernel Name', 'Grid Size', 'Block Size', 'gpu__time_duration.sum'))
unit = rows[1][itime]
ks = [(re.sub(r'\(.*', '', r[iname])[:48], r[igrid], r[iblock], float(r[itime].replace(',', ''))) for r in rows[2:] if len(r) > itime and r[iid].isdigit()]
starts = [i for i, k in enumerate(ks) if k[0].startswith('embedding')]
steps = [ks[a:b] for a, b in zip(starts[-4:], starts[-3:] + [len(ks)])]
if len(starts) >= 5:
    enc = ks[starts[-5]:starts[-4]]
    by = {}
    for name, g, blk, t in enc:
        e = by.setdefault(f'{name} {g}x{blk}', [0, 0.0])
        e[0] += 1
        e[1] += t
    print(f'## encoder pass: {len(enc)} kernels, {sum(k[3] for k in enc):.0f} {unit}')
    for key, (n, t) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f'{t:10.0f} {unit}  {n:3d} x  {key}')
for label, st in zip(['batch 1, step 1', 'batch 1, step 2', 'batch 8, step 1', 'batch 8, step 2'], steps):
    print(f'\n## {label}: {len(st)} kernels, {sum(k[3] for k in st):.0f} {unit}')
    for name, g, blk, t in st:
        print(f'{t:10.0f} {unit}  {name} {g}x{blk}')
