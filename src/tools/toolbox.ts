/**
 * Pinned binaries and files, fetched once: from the configured mirror or
 * upstream, verified against the published sha256 (binaries), cached.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chartLocation, fileLocation, goArch, goOs, type Platform } from './sources.js';
import type { BinarySourceId, ChartSourceId, ManifestSourceId, Mirrors } from '../model/sources.js';
import { openCache, type ArtifactCache, type CacheEntry, type ToolCacheChoice } from './cache.js';
import { ChecksumMismatchError, parseChecksumFile } from './checksum.js';
import { downloadFile, downloadText } from './download.js';

const run = promisify(execFile);

export interface Toolbox {
  readonly cache: ArtifactCache;
  /** Path of a helm binary at this version. */
  helm(version: string): Promise<string>;
  /** Path of a K3s binary at this version (for the seed; amd64 by default). */
  k3s(version: string, arch?: string): Promise<string>;
  /** A manifest bundle (e.g. a provider's components), as published. */
  manifest(source: ManifestSourceId, version: string): Promise<string>;
  /** Chart repository and chart name of a chart source. */
  chart(source: ChartSourceId): { repo: string; chart: string };
}

export interface ToolboxOptions {
  mirrors?: Mirrors;
  log?: { info(m: string): void; warn(m: string): void };
  /** Where tools are kept (the run's choice, see RunDirs). */
  cache: ToolCacheChoice;
  /** Where staging directories go on a runner. */
  tempDir?: string;
}

/**
 * Cache entries from a mirror are kept apart from upstream ones (and from
 * other mirrors'): a lab mirror's stand-ins must never be mistaken for the
 * real release of the same version.
 */
function toolName(name: string, mirror: string | undefined): string {
  return mirror
    ? `${name}-m${createHash('sha256').update(mirror.replace(/\/+$/, '')).digest('hex').slice(0, 8)}`
    : name;
}

export function createToolbox(o: ToolboxOptions): Toolbox {
  const cache = openCache(o.cache, o.tempDir ?? tmpdir(), o.log);
  const mirrors = o.mirrors ?? {};

  /** Download into a staging dir, verify, post-process, then hand the dir to the cache. */
  async function fetchArtifact(
    a: { id: BinarySourceId | ManifestSourceId; version: string; platform?: Platform },
    entry: CacheEntry,
    finish: (staging: string, file: string) => Promise<void>,
  ) {
    const hit = await cache.find(entry);
    if (hit) return hit;
    const src = fileLocation(a.id, a.version, mirrors, a.platform);
    await mkdir(cache.stagingRoot(), { recursive: true });
    const staging = await mkdtemp(join(cache.stagingRoot(), `${entry.tool}-`));
    try {
      o.log?.info(`downloading ${src.url}`);
      const file = join(staging, src.fileName);
      const actual = await downloadFile(src.url, file, { log: o.log?.info });
      if (src.checksum) {
        const { url, name } = src.checksum;
        const expected = parseChecksumFile(await downloadText(url), name, url);
        if (expected !== actual) throw new ChecksumMismatchError(src.url, expected, actual);
      }
      await finish(staging, file);
      return await cache.store(staging, entry);
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }

  return {
    cache,
    async helm(version) {
      const os = goOs();
      const arch = goArch();
      const dir = await fetchArtifact(
        { id: 'helm', version, platform: { os, arch } },
        { tool: toolName('capi-mgmt-helm', mirrors.binaries), version, arch },
        async (staging, file) => {
          const unpack = join(staging, 'unpack');
          await mkdir(unpack);
          await run('tar', ['-xzf', file, '-C', unpack]);
          await rename(join(unpack, `${os}-${arch}`, 'helm'), join(staging, 'helm'));
          await rm(unpack, { recursive: true });
          await rm(file);
          await chmod(join(staging, 'helm'), 0o755);
        },
      );
      return join(dir, 'helm');
    },
    async k3s(version, arch = 'amd64') {
      const dir = await fetchArtifact(
        // The seed is amd64 unless told otherwise, whatever the runner is.
        { id: 'k3s', version, platform: { os: 'linux', arch } },
        { tool: toolName('capi-mgmt-k3s', mirrors.binaries), version, arch },
        async (staging, file) => {
          // Published as `k3s` or `k3s-<arch>`; kept as `k3s` either way.
          if (file !== join(staging, 'k3s')) await rename(file, join(staging, 'k3s'));
          await chmod(join(staging, 'k3s'), 0o755);
        },
      );
      return join(dir, 'k3s');
    },
    async manifest(source, version) {
      const dir = await fetchArtifact(
        { id: source, version },
        { tool: toolName(`capi-mgmt-manifest-${source}`, mirrors.manifests), version, arch: 'any' },
        async () => {},
      );
      return readFile(join(dir, fileLocation(source, version).fileName), 'utf8');
    },
    chart: (source) => chartLocation(source, mirrors),
  };
}
