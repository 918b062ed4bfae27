/** Where a chart comes from, and how helm is told. */
export type ChartRef =
  /** A classic repository: `helm ... <name> --repo <url> --version <v>`. */
  | { kind: 'repo'; repo: string; name: string; version: string }
  /** An OCI registry: `oci://registry/path/name`. */
  | { kind: 'oci'; url: string; version: string }
  /** A chart directory or .tgz on disk. */
  | { kind: 'local'; path: string };

export function chartArgs(c: ChartRef): string[] {
  switch (c.kind) {
    case 'repo':
      return [c.name, '--repo', c.repo, '--version', c.version];
    case 'oci':
      if (!c.url.startsWith('oci://')) throw new Error(`an OCI chart reference must start with oci://, got ${c.url}`);
      return [c.url, '--version', c.version];
    case 'local':
      return [c.path];
  }
}

export function describeChart(c: ChartRef): string {
  switch (c.kind) {
    case 'repo':
      return `${c.name} ${c.version} from ${c.repo}`;
    case 'oci':
      return `${c.url} ${c.version}`;
    case 'local':
      return c.path;
  }
}

/**
 * `helm list` prints `chart: "<name>-<version>"`; chart names may contain
 * dashes and versions may carry a pre-release, so take the first dash that
 * is followed by something version-shaped.
 */
export function splitChartLabel(label: string): { name: string; version: string } {
  const m = /^(.*?)-(v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.+-]*)?)$/.exec(label);
  return m ? { name: m[1]!, version: m[2]! } : { name: label, version: '' };
}
