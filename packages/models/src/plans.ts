// The native-free part of @bminf/models (`@bminf/models/plans`): the architectures, their tensor
// plans and BMInf's weight quantization. bminf-migrate imports this entry so that converting a
// checkpoint never loads the native addon (the main entry pulls in the kernels).
import { registerArchitecture } from './architecture.js';
import { cpm1Architecture } from './cpm1/plan.js';
import { cpm2Architecture, evaArchitecture } from './cpm2/plan.js';

// The same registrations, in the same order, as the main entry (registering twice is a no-op).
registerArchitecture(cpm1Architecture);
registerArchitecture(evaArchitecture);
registerArchitecture(cpm2Architecture);

export * from './architecture.js';
export * from './quantize.js';
export * from './ties.js';
export { MAX_CONFIG_BYTES } from './model-dir.js';
export { cpm1Architecture, cpm1Plan } from './cpm1/plan.js';
export { cpm2Architecture, cpm2Plan, evaArchitecture } from './cpm2/plan.js';
