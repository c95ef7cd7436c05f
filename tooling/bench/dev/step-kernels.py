# Dev: the kernels of the last decode steps in `ncu --csv --page raw --metrics gpu__time_duration.sum node
# tooling/bench/dev/kernel-times.mjs 2 [cpm2|cpm1] [batches]` output, in launch order with their times, one
# step after another (a step begins at its first embedding kernel): kernel-times ends with 2 steps at each batch
# size (argv[2], default 1,8), after (CPM-2) one encoder pass of 512 tokens (printed first, summed by name).
import csv, re, sys
lines = open(sys.argv[1], errors='replace').read().splitlines()
start = next(i for i, ln in enumerate(lines) if ln.startswith('"ID"'))
rows = list(csv.reader(lines[start:]))
head = rows[0]
iid, iname, igrid, iblock, itime = (head.index(h) for h in ('ID', 'Kernel Name', 'Grid Size', 'Block Size', 'gpu__time_duration.sum'))
unit = rows[1][itime]
ks = [(re.sub(r'\(.*', '', r[iname])[:48], r[igrid], r[iblock], float(r[itime].replace(',', ''))) for r in rows[2:] if len(r) > itime and r[iid].isdigit()]
batches = (sys.argv[2] if len(sys.argv) > 2 else '1,8').split(',')
labels = [f'batch {b}, step {t}' for b in batches for t in (1, 2)]
n = len(labels)
# a step's first kernel is an embedding; CPM-1's steps launch two in a row (tokens, then positions)
starts = [i for i, k in enumerate(ks) if k[0].startswith('embedding') and not (i > 0 and ks[i - 1][0].startswith('embedding'))]
steps = [ks[a:b] for a, b in zip(starts[-n:], starts[-n + 1:] + [len(ks)])]
if len(starts) > n and len(ks[starts[-n - 1]:starts[-n]]) > 3 * len(steps[0]):
    enc = ks[starts[-n - 1]:starts[-n]]
    by = {}
    for name, g, blk, t in enc:
        e = by.setdefault(f'{name} {g}x{blk}', [0, 0.0])
        e[0] += 1
        e[1] += t
    print(f'## encoder pass: {len(enc)} kernels, {sum(k[3] for k in enc):.0f} {unit}')
    for key, (count, t) in sorted(by.items(), key=lambda kv: -kv[1][1]):
        print(f'{t:10.0f} {unit}  {count:3d} x  {key}')
for label, st in zip(labels, steps):
    print(f'\n## {label}: {len(st)} kernels, {sum(k[3] for k in st):.0f} {unit}')
    for name, g, blk, t in st:
        print(f'{t:10.0f} {unit}  {name} {g}x{blk}')
