export { createToolbox } from './toolbox.js';
export type { Toolbox } from './toolbox.js';
export { ChecksumMismatchError } from './checksum.js';
export { toolCacheFromEnv } from './cache.js';
export type { ToolCacheChoice } from './cache.js';
