export { createToolbox } from './toolbox.js';
export type { Toolbox, ToolboxOptions } from './toolbox.js';
export { artifactSource, chartSource, UPSTREAM_HELM_BASE } from './artifacts.js';
export type { Artifact, ArtifactSource, ChartComponent, ManifestComponent, Mirrors } from './artifacts.js';
export { LocalCache, RunnerCache, cacheVersion, defaultCacheRoot, selectCache } from './cache.js';
export type { ArtifactCache } from './cache.js';
export { ChecksumMismatchError, parseChecksumFile, sha256File } from './checksum.js';
