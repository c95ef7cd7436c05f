// A restricted unpickler: a stack machine over the opcodes that state dicts use. It never evaluates or
// imports anything: GLOBAL names go through `resolveGlobal`, which returns a TypeScript stand-in for an
// allow-listed name and throws for anything else, and REDUCE/NEWOBJ only call those stand-ins.
import { CheckpointError } from '@bminf/core';

/** A stand-in for an allow-listed Python callable, implemented in TypeScript. */
export class PyCallable {
  constructor(
    readonly qualname: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

/** Python's dict / OrderedDict. Attributes set by BUILD are kept apart from the items. */
export class PyDict extends Map<unknown, unknown> {
  attributes: unknown = undefined;
}

export interface UnpickleHooks {
  /** Returns the stand-in for module.name or throws (by name) for anything not allowed. */
  resolveGlobal(module: string, name: string): unknown;
  /** Turns a persistent id (a storage reference) into a value. */
  persistentLoad(pid: unknown): unknown;
}

const MARK = Symbol('mark');

/**
 * Values one pickle may create (every push counts). A state dict needs a few dozen per tensor; the
 * limit bounds the memory a crafted pickle can take (DUP is one byte and pushes a value).
 */
export const MAX_PICKLE_OBJECTS = 16_000_000;

function opName(op: number): string {
  return `0x${op.toString(16).padStart(2, '0')}${op >= 0x20 && op < 0x7f ? ` ('${String.fromCharCode(op)}')` : ''}`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

export function unpickle(bytes: Uint8Array, hooks: UnpickleHooks, file: string, what = 'the pickle'): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  const memo = new Map<number, unknown>();

  const fail = (msg: string, hint = 'The file is corrupt or was not written by torch.save; re-save it.'): never => {
    throw new CheckpointError(`${what} ${msg} (at byte ${pos}).`, { file, hint });
  };
  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > bytes.length) fail(`ends early: ${n} more bytes were declared but ${bytes.length - pos} remain`);
    const at = pos;
    pos += n;
    return at;
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('has a text argument without its newline');
    const s = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  // `stack` is reassigned by MARK handling: read it only when pushing (never `stack.push(popMark())`).
  let created = 0;
  const push = (v: unknown): void => {
    if (++created > MAX_PICKLE_OBJECTS) fail(`creates more than ${MAX_PICKLE_OBJECTS} values (the object-count limit); a state dict needs far fewer`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('pops from an empty stack');
    const v = stack.pop();
    if (v === MARK) fail('pops a MARK as a value');
    return v;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('reads the top of an empty stack');
    return stack[stack.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = stack;
    const prev = marks.pop();
    if (!prev) fail('closes a MARK that was never opened');
    stack = prev!;
    return items;
  };
  const str = (n: number): string => {
    const at = need(n);
    try {
      return utf8.decode(bytes.subarray(at, at + n));
    } catch {
      return fail('holds a string that is not valid UTF-8');
    }
  };
  const bytesOf = (n: number): Uint8Array => {
    const at = need(n);
    return bytes.slice(at, at + n);
  };
  const u64 = (): number => {
    const at = need(8);
    const v = view.getBigUint64(at, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`declares a length of ${v} bytes`);
    return Number(v);
  };
  const long = (n: number): number | bigint => {
    const at = need(n);
    if (n === 0) return 0;
    let v = 0n;
    for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]);
    if (bytes[at + n - 1] & 0x80) v -= 1n << BigInt(8 * n);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const callable = (f: unknown, op: string): PyCallable => {
    if (!(f instanceof PyCallable)) fail(`applies ${op} to ${describe(f)}, which is not an allowed callable`);
    return f as PyCallable;
  };
  const setItems = (d: unknown, items: unknown[]): void => {
    if (!(d instanceof Map)) fail(`sets items on ${describe(d)}, which is not a dict`);
    if (items.length % 2) fail('gives SETITEMS an odd number of values');
    for (let i = 0; i < items.length; i += 2) (d as Map<unknown, unknown>).set(items[i], items[i + 1]);
  };
  const append = (l: unknown, items: unknown[]): void => {
    if (!Array.isArray(l)) fail(`appends to ${describe(l)}, which is not a list`);
    for (const item of items) (l as unknown[]).push(item); // not push(...items): a long MARK would overflow the call stack
  };
  const global = (module: string, name: string): unknown => hooks.resolveGlobal(module, name);

  for (;;) {
    if (pos >= bytes.length) fail('ends without a STOP opcode');
    const op = bytes[pos++];
    switch (op) {
      case 0x80: // PROTO
        if (bytes[need(1)] > 5) fail(`uses pickle protocol ${bytes[pos - 1]}; protocols 2 to 5 are read`);
        break;
      case 0x95: // FRAME: framing is only a hint for buffered readers
        u64();
        break;
      case 0x2e: // STOP
        return pop();
      case 0x28: // MARK
        marks.push(stack);
        stack = [];
        break;
      case 0x7d: // EMPTY_DICT
        push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        push([]);
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x6c: // LIST
      case 0x74: // TUPLE
        push(popMark());
        break;
      case 0x85: // TUPLE1
        push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        push([pop(), b, c]);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        append(top(), [v]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('adds items to something that is not a set');
        for (const i of items) (s as Set<unknown>).add(i);
        break;
      }
      case 0x91: // FROZENSET
        push(new Set(popMark()));
        break;
      case 0x30: // POP
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x58: // BINUNICODE
        push(str(view.getUint32(need(4), true)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(str(bytes[need(1)]));
        break;
      case 0x8d: // BINUNICODE8
        push(str(u64()));
        break;
      case 0x54: // BINSTRING (protocol <= 2 byte strings, as latin-1)
        push(latin1.decode(bytesOf(view.getInt32(need(4), true))));
        break;
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(bytesOf(bytes[need(1)])));
        break;
      case 0x42: // BINBYTES
        push(bytesOf(view.getUint32(need(4), true)));
        break;
      case 0x43: // SHORT_BINBYTES
        push(bytesOf(bytes[need(1)]));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(bytesOf(u64()));
        break;
      case 0x4a: // BININT
        push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1
        push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2
        push(view.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1
        push(long(bytes[need(1)]));
        break;
      case 0x8b: {
        // LONG4
        const n = view.getInt32(need(4), true);
        if (n > 64) fail(`holds a ${n}-byte integer`);
        push(long(n));
        break;
      }
      case 0x49: {
        // INT (text): also True/False as 01/00 in protocol 0
        const s = line();
        if (s === '01' || s === '00') push(s === '01');
        else if (/^-?\d+$/.test(s)) push(Number(s));
        else fail(`has an INT that is not an integer: ${JSON.stringify(s)}`);
        break;
      }
      case 0x47: // BINFLOAT (big-endian)
        push(view.getFloat64(need(8), false));
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x71: // BINPUT
        memo.set(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: {
        // PUT (text)
        const k = Number(line());
        memo.set(k, top());
        break;
      }
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
      case 0x67: {
        // GET (text)
        const k = op === 0x68 ? bytes[need(1)] : op === 0x6a ? view.getUint32(need(4), true) : Number(line());
        if (!memo.has(k)) fail(`reads memo slot ${k}, which was never written`);
        push(memo.get(k));
        break;
      }
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('names a global with values that are not strings');
        push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const f = callable(pop(), 'REDUCE');
        if (!Array.isArray(args)) fail(`calls ${f.qualname} with arguments that are not a tuple`);
        push(f.call(args as unknown[]));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args), allowed for the same stand-ins
        const args = pop();
        const f = callable(pop(), 'NEWOBJ');
        if (!Array.isArray(args)) fail(`creates ${f.qualname} with arguments that are not a tuple`);
        push(f.call(args as unknown[]));
        break;
      }
      case 0x62: {
        // BUILD: state for the object below; tensors and dicts keep it as plain data
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attributes = state;
        else if (obj !== null && typeof obj === 'object' && 'setState' in obj && typeof obj.setState === 'function') obj.setState(state);
        else fail(`sets the state of ${describe(obj)}, which takes none`);
        break;
      }
      case 0x51: // BINPERSID
        push(hooks.persistentLoad(pop()));
        break;
      case 0x50: // PERSID (text)
        push(hooks.persistentLoad(line()));
        break;
      default:
        fail(
          `uses opcode ${opName(op)}, which state dicts do not need and bminf does not run`,
          'Re-save the tensors from Python (e.g. with safetensors) if you trust the file; it may be malicious.',
        );
    }
  }
}

export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyCallable) return v.qualname;
  if (v !== null && typeof v === 'object' && 'qualname' in v && typeof v.qualname === 'string') return v.qualname;
  if (Array.isArray(v)) return `a tuple/list of ${v.length}`;
  if (v instanceof Map) return 'a dict';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'object' ? (v.constructor?.name ?? 'an object') : `${typeof v} ${String(v).slice(0, 40)}`;
}
