/** The bootstrap script's last line, `CAPI_MGMT_RESULT key=value ...`, as data. */
export interface BootstrapResult {
  mode: 'apply' | 'check';
  changed: boolean;
  /** What changed (apply) or would change (check): sysctl, format, fstab, mount, binary, unit, enable, restart, start. */
  steps: string[];
  /** The installed K3s version ('' when none). */
  version: string;
  /** The K3s API answered /readyz on the seed. */
  healthy: boolean;
}

const RESULT_MARKER = 'CAPI_MGMT_RESULT';

export function parseBootstrapResult(stdout: string): BootstrapResult | undefined {
  const line = stdout
    .split('\n')
    .reverse()
    .find((l) => l.startsWith(`${RESULT_MARKER} `));
  if (line === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const part of line
    .slice(RESULT_MARKER.length + 1)
    .trim()
    .split(/\s+/)) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq), part.slice(eq + 1));
  }
  const steps = fields.get('steps') ?? '-';
  return {
    mode: fields.get('mode') === 'check' ? 'check' : 'apply',
    changed: fields.get('changed') === '1',
    steps: steps === '-' || steps === '' ? [] : steps.split(','),
    version: fields.get('version') ?? '',
    healthy: fields.get('healthy') === '1',
  };
}
