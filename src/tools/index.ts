export { createToolbox } from './toolbox.js';
export type { Toolbox, ToolboxOptions } from './toolbox.js';
export { chartLocation, checksumPath, fileLocation, filePath, SOURCES } from './sources.js';
export type {
  BinarySourceId,
  ChartSourceId,
  FileLocation,
  ManifestSourceId,
  Mirrors,
  Source,
  SourceId,
} from './sources.js';
export { LocalCache, RunnerCache, cacheVersion, defaultCacheRoot, selectCache } from './cache.js';
export type { ArtifactCache } from './cache.js';
export { ChecksumMismatchError, parseChecksumFile, sha256File } from './checksum.js';
