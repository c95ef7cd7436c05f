# Dev: condenses `ncu --csv --page details` output (one file) to a few lines per kernel launch: its
# time, DRAM throughput, achieved occupancy, registers, and the largest warp stall reasons, so that a
# profile of the decode GEMVs comes back from the GPU machine as text small enough to read.
import csv, re, sys, collections
lines = open(sys.argv[1], errors='replace').read().splitlines()
start = next(i for i, ln in enumerate(lines) if ln.startswith('"ID"'))
rows = list(csv.reader(lines[start:]))
head = rows[0]
col = {h: i for i, h in enumerate(head)}
byid = collections.OrderedDict()
for r in rows[1:]:
    if len(r) <= col['Metric Value'] or not r[col['ID']].isdigit() or not r[col['Metric Name']]:
        continue
    k = r[col['ID']]
    d = byid.setdefault(k, {'name': re.sub(r'\(.*', '', r[col['Kernel Name']]), 'grid': r[col['Grid Size']], 'block': r[col['Block Size']], 'm': {}, 'rules': []})
    d['m'][r[col['Section Name']] + '/' + r[col['Metric Name']]] = (r[col['Metric Value']], r[col['Metric Unit']])
    if len(r) > col['Rule Description'] and 'stalled' in r[col['Rule Description']]:
        d['rules'].append(r[col['Rule Description']])
want = ['GPU Speed Of Light Throughput/Duration', 'GPU Speed Of Light Throughput/SM Frequency', 'GPU Speed Of Light Throughput/DRAM Throughput',
        'Memory Workload Analysis/Memory Throughput', 'Memory Workload Analysis/Local Memory Spilling Requests', 'Occupancy/Achieved Occupancy',
        'Launch Statistics/Registers Per Thread', 'Scheduler Statistics/Issued Warp Per Scheduler', 'Warp State Statistics/Warp Cycles Per Issued Instruction']
for k, d in byid.items():
    print(f"{k} {d['name']} grid {d['grid']} block {d['block']}")
    print('   ' + '; '.join(f"{w.split('/')[1]} {d['m'][w][0]} {d['m'][w][1]}" for w in want if w in d['m']))
    # ncu's rules name the largest stall reason of each launch; keep the first sentence of each
    for rule in d['rules'][:3]:
        print('   rule: ' + rule[:300])
