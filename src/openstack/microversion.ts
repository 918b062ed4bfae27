/**
 * Microversion choice. We ask for the newest version we know how to read
 * (`preferred`), capped at what the server offers: clouds run releases
 * from years apart, and asking above the server's maximum is a 406.
 */
export type Version = readonly [number, number];

function parseVersion(v: string): Version | undefined {
  const m = /^v?(\d+)\.(\d+)$/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

export function compareVersions(a: Version, b: Version): number {
  return a[0] - b[0] || a[1] - b[1];
}

export const formatVersion = (v: Version): string => `${v[0]}.${v[1]}`;

class MicroversionError extends Error {
  constructor(service: string, need: Version, max: Version) {
    super(
      `${service} API offers microversions up to ${formatVersion(max)}, but at least ${formatVersion(need)} is needed`,
    );
    this.name = 'MicroversionError';
  }
}

/** min(server max, preferred); an error when even that is below what we need. */
export function chooseMicroversion(
  service: string,
  server: { min?: Version; max?: Version },
  want: { min: Version; preferred: Version },
): Version {
  // A server that publishes no microversion range speaks only the base version.
  const max = server.max ?? server.min ?? [want.min[0], 0];
  const chosen = compareVersions(max, want.preferred) < 0 ? max : want.preferred;
  if (compareVersions(chosen, want.min) < 0) throw new MicroversionError(service, want.min, max);
  if (server.min && compareVersions(chosen, server.min) < 0) return server.min;
  return chosen;
}

/**
 * Read `{version: {version, min_version}}` (Nova, versioned root) or
 * `{versions: [...]}` (Cinder, unversioned root) and return the range of
 * the entry whose id matches `id` (e.g. "v2.1", "v3.0").
 */
export function readVersionDocument(doc: unknown, id: string): { min?: Version; max?: Version } {
  const entries: unknown[] = [];
  if (doc && typeof doc === 'object') {
    const d = doc as { version?: unknown; versions?: unknown };
    if (d.version) entries.push(d.version);
    if (Array.isArray(d.versions)) entries.push(...d.versions);
    else if (d.versions && typeof d.versions === 'object') {
      const values = (d.versions as { values?: unknown }).values;
      if (Array.isArray(values)) entries.push(...values);
    }
  }
  const pick = entries.find((e) => (e as { id?: string }).id === id) ?? (entries.length === 1 ? entries[0] : undefined);
  if (!pick) return {};
  const e = pick as { version?: string; min_version?: string };
  return {
    max: e.version ? parseVersion(e.version) : undefined,
    min: e.min_version ? parseVersion(e.min_version) : undefined,
  };
}
