// Hand-built torch.save archives for tests: a stored zip (optionally with zip64 records) and pickle
// bytes written opcode by opcode, so malicious and unusual pickles can be made without Python.

const enc = new TextEncoder();

function cat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function le(n: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  let v = BigInt(n);
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

export interface ZipOptions {
  zip64?: boolean;
  method?: number;
}

/** A zip of stored entries. With zip64, every size and offset goes through the zip64 extra field and end records. */
export function buildZip(entries: { name: string; data: Uint8Array }[], opts: ZipOptions = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  const z = opts.zip64 ?? false;
  for (const e of entries) {
    const name = enc.encode(e.name);
    const local = cat([
      le(0x04034b50, 4), le(z ? 45 : 20, 2), le(0, 2), le(opts.method ?? 0, 2), le(0, 4), le(0, 4),
      le(z ? 0xffffffff : e.data.length, 4), le(z ? 0xffffffff : e.data.length, 4), le(name.length, 2), le(0, 2), name,
    ]);
    const extra = z ? cat([le(1, 2), le(24, 2), le(e.data.length, 8), le(e.data.length, 8), le(offset, 8)]) : new Uint8Array(0);
    central.push(
      cat([
        le(0x02014b50, 4), le(45, 2), le(z ? 45 : 20, 2), le(0, 2), le(opts.method ?? 0, 2), le(0, 4), le(0, 4),
        le(z ? 0xffffffff : e.data.length, 4), le(z ? 0xffffffff : e.data.length, 4), le(name.length, 2), le(extra.length, 2),
        le(0, 2), le(0, 2), le(0, 2), le(0, 4), le(z ? 0xffffffff : offset, 4), name, extra,
      ]),
    );
    parts.push(local, e.data);
    offset += local.length + e.data.length;
  }
  const cd = cat(central);
  const cdOffset = offset;
  parts.push(cd);
  if (z) {
    const recPos = cdOffset + cd.length;
    parts.push(
      cat([le(0x06064b50, 4), le(44, 8), le(45, 2), le(45, 2), le(0, 4), le(0, 4), le(entries.length, 8), le(entries.length, 8), le(cd.length, 8), le(cdOffset, 8)]),
      cat([le(0x07064b50, 4), le(0, 4), le(recPos, 8), le(1, 4)]),
      cat([le(0x06054b50, 4), le(0, 2), le(0, 2), le(0xffff, 2), le(0xffff, 2), le(0xffffffff, 4), le(0xffffffff, 4), le(0, 2)]),
    );
  } else {
    parts.push(cat([le(0x06054b50, 4), le(0, 2), le(0, 2), le(entries.length, 2), le(entries.length, 2), le(cd.length, 4), le(cdOffset, 4), le(0, 2)]));
  }
  return cat(parts);
}

/** Pickle opcodes as byte builders. */
export const P = {
  proto: (v = 2) => new Uint8Array([0x80, v]),
  stop: () => new Uint8Array([0x2e]),
  mark: () => new Uint8Array([0x28]),
  emptyDict: () => new Uint8Array([0x7d]),
  emptyTuple: () => new Uint8Array([0x29]),
  tuple: () => new Uint8Array([0x74]),
  tuple1: () => new Uint8Array([0x85]),
  tuple2: () => new Uint8Array([0x86]),
  setitems: () => new Uint8Array([0x75]),
  setitem: () => new Uint8Array([0x73]),
  reduce: () => new Uint8Array([0x52]),
  build: () => new Uint8Array([0x62]),
  binpersid: () => new Uint8Array([0x51]),
  newfalse: () => new Uint8Array([0x89]),
  none: () => new Uint8Array([0x4e]),
  str: (s: string) => {
    const b = enc.encode(s);
    return cat([new Uint8Array([0x58]), le(b.length, 4), b]);
  },
  shortStr: (s: string) => {
    const b = enc.encode(s);
    return cat([new Uint8Array([0x8c, b.length]), b]);
  },
  int: (n: number) => cat([new Uint8Array([0x4a]), le(n >>> 0, 4)]),
  global: (module: string, name: string) => cat([new Uint8Array([0x63]), enc.encode(`${module}\n${name}\n`)]),
  stackGlobal: () => new Uint8Array([0x93]),
  binput: (i: number) => new Uint8Array([0x71, i]),
  binget: (i: number) => new Uint8Array([0x68, i]),
  raw: (...b: number[]) => new Uint8Array(b),
};

export const pickle = (...parts: Uint8Array[]) => cat(parts);
/** pickle() for more parts than a call's arguments can hold. */
export const pickleOf = (parts: Uint8Array[]) => cat(parts);

export interface TensorDesc {
  name: string;
  storage: string; // e.g. 'FloatStorage'
  key: string;
  numel: number; // of the storage
  offset?: number;
  size: number[];
  stride?: number[];
  parameter?: boolean;
}

function intTuple(xs: number[]): Uint8Array {
  return cat([P.mark(), ...xs.map(P.int), P.tuple()]);
}

/** The pickle torch.save writes for {name: tensor} (protocol 2, _rebuild_tensor_v2, optional Parameter). */
export function statePickle(tensors: TensorDesc[], extra: Uint8Array = new Uint8Array(0)): Uint8Array {
  const parts: Uint8Array[] = [P.proto(2), P.global('collections', 'OrderedDict'), P.emptyTuple(), P.reduce(), P.mark()];
  for (const t of tensors) {
    const stride = t.stride ?? t.size.map((_, i) => t.size.slice(i + 1).reduce((a, b) => a * b, 1));
    parts.push(P.str(t.name));
    if (t.parameter) parts.push(P.global('torch._utils', '_rebuild_parameter'));
    parts.push(
      P.global('torch._utils', '_rebuild_tensor_v2'),
      P.mark(),
      P.mark(), P.str('storage'), P.global('torch', t.storage), P.str(t.key), P.str('cpu'), P.int(t.numel), P.tuple(), P.binpersid(),
      P.int(t.offset ?? 0), intTuple(t.size), intTuple(stride), P.newfalse(),
      P.global('collections', 'OrderedDict'), P.emptyTuple(), P.reduce(),
      P.tuple(), P.reduce(),
    );
    if (t.parameter) parts.push(P.newfalse(), P.global('collections', 'OrderedDict'), P.emptyTuple(), P.reduce(), P.raw(0x87), P.reduce());
  }
  parts.push(P.setitems(), extra, P.stop());
  return cat(parts);
}

export function torchArchive(pkl: Uint8Array, storages: Record<string, Uint8Array>, opts: ZipOptions & { prefix?: string } = {}): Uint8Array {
  const prefix = opts.prefix ?? 'archive';
  return buildZip(
    [
      { name: `${prefix}/data.pkl`, data: pkl },
      { name: `${prefix}/byteorder`, data: enc.encode('little') },
      ...Object.entries(storages).map(([k, data]) => ({ name: `${prefix}/data/${k}`, data })),
      { name: `${prefix}/version`, data: enc.encode('3\n') },
    ],
    opts,
  );
}

/** A LONG_BINPUT / LONG_BINGET pair (4-byte memo index). */
const longPut = (i: number) => P.raw(0x72, i & 0xff, (i >> 8) & 0xff, 0, 0);
const longGet = (i: number) => P.raw(0x6a, i & 0xff, (i >> 8) & 0xff, 0, 0);

/** {x: d, y: d} nested `levels` deep, every d the same object through the memo (2^levels paths, a few bytes each level). */
export function sharedDicts(levels: number): Uint8Array {
  const parts = [P.proto(2), P.emptyDict(), longPut(0)];
  for (let i = 1; i <= levels; i++) parts.push(P.emptyDict(), P.mark(), P.shortStr('x'), longGet(i - 1), P.shortStr('y'), longGet(i - 1), P.setitems(), longPut(i));
  parts.push(P.stop());
  return cat(parts);
}
