export { createHelm, HelmError } from './cli.js';
export type { Helm, ReleaseInfo, UpgradeOptions } from './cli.js';
export { diffRelease } from './values-diff.js';
