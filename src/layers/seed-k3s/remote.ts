/** The remote side of seed-k3s: the bootstrap script's invocation, and reading K3s's kubeconfig. */
import { remotePath, shq, type SshSession } from '../../ssh/index.js';
import { BOOTSTRAP_SCRIPT } from './bootstrap-script.js';
import { parseBootstrapResult, type BootstrapResult } from './result.js';

/** Where the K3s binary is staged on the seed (the login user's home) before the script installs it. */
export const stagedBinaryPath = (version: string): string => `~/.cache/capi-mgmt/k3s-${version}`;

export interface BootstrapParams {
  mode: 'apply' | 'check';
  version: string;
  /** apply: the staged binary (`~/` path) and its sha256. */
  binary?: { path: string; sha256: string };
  dataVolumeId?: string;
  dataDevice?: string;
  apiTimeoutSeconds?: number;
}

/**
 * The script runs from the command line (`bash -c`), so nothing is left on
 * the seed and nothing reads it from stdin. CAPI_MGMT_ROOT is passed through
 * sudo from the login environment: unset on a real seed, a sandbox in the lab.
 */
export function bootstrapCommand(p: BootstrapParams): string {
  const env: string[] = ['CAPI_MGMT_ROOT="${CAPI_MGMT_ROOT:-}"', `MODE=${p.mode}`, `K3S_VERSION=${shq(p.version)}`];
  if (p.binary) env.push(`K3S_BINARY=${remotePath(p.binary.path)}`, `K3S_SHA256=${shq(p.binary.sha256)}`);
  if (p.dataVolumeId) env.push(`DATA_VOLUME_ID=${shq(p.dataVolumeId)}`);
  if (p.dataDevice) env.push(`DATA_DEVICE=${shq(p.dataDevice)}`);
  if (p.apiTimeoutSeconds) env.push(`K3S_API_TIMEOUT=${p.apiTimeoutSeconds}`);
  return `sudo -n env ${env.join(' ')} bash -c ${shq(BOOTSTRAP_SCRIPT)} capi-mgmt-bootstrap`;
}

class BootstrapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BootstrapError';
  }
}

export async function runBootstrap(
  session: SshSession,
  p: BootstrapParams,
  log?: (line: string) => void,
): Promise<BootstrapResult> {
  const r = await session.exec(bootstrapCommand(p), log ? { log, prefix: '[seed] ' } : {});
  const result = parseBootstrapResult(r.stdout);
  if (r.code !== 0 || result === undefined) {
    const why = r.stderr.trim().split('\n').pop() || `exit code ${r.code ?? r.signal ?? '?'}`;
    throw new BootstrapError(`the K3s bootstrap (${p.mode}) failed on the seed: ${why}`);
  }
  return result;
}

/** K3s's own kubeconfig (root-only on the seed). */
export async function readK3sKubeconfig(session: SshSession): Promise<string> {
  const r = await session.exec('sudo -n cat "${CAPI_MGMT_ROOT:-}/etc/rancher/k3s/k3s.yaml"');
  if (r.code !== 0) {
    throw new Error(`cannot read /etc/rancher/k3s/k3s.yaml on the seed: ${r.stderr.trim() || `exit code ${r.code}`}`);
  }
  return r.stdout;
}
