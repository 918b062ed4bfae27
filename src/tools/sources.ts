/**
 * Where the files and charts of the source table (`src/model/sources.ts`)
 * are fetched from: a row's path templates filled for a version and a
 * platform, under its upstream or a mirror base URL.
 */
import {
  SOURCES,
  type BinarySourceId,
  type ChartSource,
  type ChartSourceId,
  type FileSource,
  type ManifestSourceId,
  type Mirrors,
} from '../model/sources.js';

/** Node's names to the ones release files use. */
export function goArch(arch: string = process.arch): string {
  return ({ x64: 'amd64', arm64: 'arm64', arm: 'arm' } as Record<string, string>)[arch] ?? arch;
}

export function goOs(platform: string = process.platform): string {
  return platform === 'win32' ? 'windows' : platform;
}

export interface Platform {
  os?: string;
  arch?: string;
}

const trim = (base: string): string => base.replace(/\/+$/, '');

/** Fill a path template; an unknown placeholder is a bug in the table. */
export function fillTemplate(template: string, version: string, p: Platform = {}): string {
  const arch = p.arch ?? goArch();
  const vars: Record<string, string> = {
    version,
    // `v1.34.8+k3s1` -> `v1.34.8%2Bk3s1`, the way GitHub release URLs spell tags.
    tag: encodeURIComponent(version),
    os: p.os ?? goOs(),
    arch,
    archSuffix: arch === 'amd64' ? '' : `-${arch}`,
  };
  return template.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`source path template ${template}: unknown placeholder {${name}}`);
    return v;
  });
}

/** Where a file is fetched from: upstream, or the same path under a mirror. */
export interface FileLocation {
  url: string;
  /** The sha256 list and the name the file is listed under. */
  checksum?: { url: string; name: string };
  /** The file's own name (last path segment), for the cache. */
  fileName: string;
}

/** Path of a file under any base URL (upstream or mirror), without a leading slash. */
export function filePath(id: BinarySourceId | ManifestSourceId, version: string, p: Platform = {}): string {
  return fillTemplate(SOURCES[id].path, version, p);
}

/** Path of its published sha256 list and the name the list gives the file, if upstream publishes one. */
export function checksumPath(
  id: BinarySourceId | ManifestSourceId,
  version: string,
  p: Platform = {},
): { path: string; name: string } | undefined {
  const s: FileSource = SOURCES[id];
  return (
    s.checksum && { path: fillTemplate(s.checksum.path, version, p), name: fillTemplate(s.checksum.name, version, p) }
  );
}

export function fileLocation(
  id: BinarySourceId | ManifestSourceId,
  version: string,
  mirrors: Mirrors = {},
  p: Platform = {},
): FileLocation {
  const s: FileSource = SOURCES[id];
  const base = trim(mirrors[s.mirror] ?? s.upstream);
  const path = filePath(id, version, p);
  const sum = checksumPath(id, version, p);
  return {
    url: `${base}/${path}`,
    fileName: decodeURIComponent(path.slice(path.lastIndexOf('/') + 1)),
    ...(sum && { checksum: { url: `${base}/${sum.path}`, name: sum.name } }),
  };
}

/** The Helm repository and chart name: upstream, or the one mirror repository. */
export function chartLocation(id: ChartSourceId, mirrors: Mirrors = {}): { repo: string; chart: string } {
  const s: ChartSource = SOURCES[id];
  return { repo: trim(mirrors.charts ?? s.upstream), chart: s.chart };
}
