// The allow-list of Python names a torch.save state dict may mention, each with a TypeScript
// stand-in. Anything else is refused by name: a state dict never needs it, and loading it in Python
// would run code (os.system, builtins.eval, ...).
import { CheckpointError } from '@bminf/core';
import { describe, PyCallable, PyDict } from './pickle.js';
import type { SourceDType } from './types.js';

/** A storage type (torch.HalfStorage, ...) or a dtype constant (torch.float16, ...). */
export class TorchDType {
  constructor(
    readonly qualname: string,
    readonly dtype: SourceDType,
  ) {}
}

/** A storage record of the archive: data/<key>, `numel` elements of `dtype`. */
export class StorageRef {
  constructor(
    readonly key: string,
    readonly dtype: SourceDType,
    readonly numel: number,
    readonly untyped: boolean,
  ) {}
}

/** A tensor view over a storage, as `_rebuild_tensor_v2` describes it (offset and strides in elements). */
export class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly dtype: SourceDType,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
  setState(): void {
    // Python attributes of a tensor (e.g. from _rebuild_from_type_v2) carry no weights.
  }
}

/** A class named only to be passed to _rebuild_from_type_v2 (torch.Tensor, Parameter). */
class TensorType {
  constructor(readonly qualname: string) {}
}

const STORAGES: Record<string, SourceDType> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};

const DTYPES: Record<string, SourceDType> = {
  float64: 'F64',
  double: 'F64',
  float32: 'F32',
  float: 'F32',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  short: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

function intList(v: unknown, what: string, fail: (m: string) => never): number[] {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    fail(`${what} ${describe(v)} is not a tuple of non-negative integers`);
  }
  return v as number[];
}

function rebuildTensor(args: unknown[], dtypeArg: unknown, fail: (m: string) => never): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) fail(`_rebuild_tensor gets ${describe(storage)} instead of a storage`);
  const s = storage as StorageRef;
  let dtype = s.dtype;
  if (dtypeArg !== undefined) {
    if (!(dtypeArg instanceof TorchDType)) fail(`_rebuild_tensor_v3 gets ${describe(dtypeArg)} instead of a dtype`);
    dtype = (dtypeArg as TorchDType).dtype;
  }
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) fail(`_rebuild_tensor gets storage offset ${describe(offset)}`);
  const shape = intList(size, 'the size', fail);
  const strides = intList(stride, 'the stride', fail);
  if (shape.length !== strides.length) fail(`_rebuild_tensor gets size [${shape}] and stride [${strides}] of different lengths`);
  return new TensorRef(s, dtype, offset as number, [...shape], [...strides]);
}

/** The functions _rebuild_from_type_v2 may call. */
const REBUILDERS = new Set(['torch._utils._rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v3', 'torch._utils._rebuild_parameter', 'torch._utils._rebuild_parameter_with_state']);

/** Builds the resolver for one file; errors name that file. */
export function torchGlobals(file: string): (module: string, name: string) => unknown {
  const fail = (m: string): never => {
    throw new CheckpointError(`the pickle is not a state dict bminf can read: ${m}.`, { file, hint: 'Re-save the state dict with torch.save.' });
  };
  return (module, name) => {
    const q = `${module}.${name}`;
    if (module === 'collections' && name === 'OrderedDict') {
      return new PyCallable(q, (args) => {
        const d = new PyDict();
        if (Array.isArray(args[0])) for (const kv of args[0]) if (Array.isArray(kv) && kv.length === 2) d.set(kv[0], kv[1]);
        return d;
      });
    }
    if (module === 'torch._utils') {
      if (name === '_rebuild_tensor_v2') return new PyCallable(q, (args) => rebuildTensor(args, undefined, fail));
      if (name === '_rebuild_tensor_v3') return new PyCallable(q, (args) => rebuildTensor(args, args[6], fail));
      if (name === '_rebuild_parameter' || name === '_rebuild_parameter_with_state') {
        return new PyCallable(q, (args) => {
          if (!(args[0] instanceof TensorRef)) fail(`${name} gets ${describe(args[0])} instead of a tensor`);
          return args[0];
        });
      }
    }
    if (module === 'torch._tensor' && name === '_rebuild_from_type_v2') {
      // (func, new_type, args, state): the subclass only changes the Python type, so call func(*args).
      return new PyCallable(q, ([func, type, args]) => {
        // Only a tensor rebuild function: a _rebuild_from_type_v2 nested in itself would recurse once per level.
        if (!(func instanceof PyCallable) || !REBUILDERS.has(func.qualname)) fail(`_rebuild_from_type_v2 gets ${describe(func)} as its function`);
        if (!(type instanceof TensorType)) fail(`_rebuild_from_type_v2 gets ${describe(type)} as its type`);
        if (!Array.isArray(args)) fail('_rebuild_from_type_v2 gets arguments that are not a tuple');
        return (func as PyCallable).call(args as unknown[]);
      });
    }
    if (module === 'torch' && Object.hasOwn(STORAGES, name)) return new TorchDType(q, STORAGES[name]);
    if (module === 'torch' && Object.hasOwn(DTYPES, name)) return new TorchDType(q, DTYPES[name]);
    if ((module === 'torch.storage' || module === 'torch') && name === 'UntypedStorage') return new TorchDType(q, 'U8');
    if (q === 'torch.Tensor' || q === 'torch.nn.parameter.Parameter') return new TensorType(q);
    if (q === 'torch.Size') return new PyCallable(q, ([dims]) => intList(dims, 'torch.Size', fail));
    if (q === '_codecs.encode') {
      // How protocol 2 pickles bytes: _codecs.encode(text, 'latin1').
      return new PyCallable(q, ([text, enc]) => {
        if (typeof text !== 'string' || (enc !== 'latin1' && enc !== 'latin-1')) fail('_codecs.encode is used other than for latin-1 bytes');
        return Uint8Array.from(text as string, (c) => c.charCodeAt(0));
      });
    }
    throw new CheckpointError(
      `refusing to load it: the pickle asks for ${q}, which a state dict never needs; this file may be malicious.`,
      {
        file,
        hint:
          'bminf allows only tensors, storages, OrderedDict and plain values, and runs nothing. If you trust the file, re-save just its state dict (torch.save(model.state_dict(), path)) or convert it to safetensors.',
      },
    );
  };
}
