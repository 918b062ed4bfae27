/**
 * A fake seed host behind the `SshSession` interface: what seed-k3s sees of
 * a VM over SSH. It checks the user, key and host key like sshd does,
 * refuses connections while "booting", and understands the commands the
 * layer sends: the bootstrap script (recognised by its exact text, so a
 * change to the script is noticed), reading K3s's kubeconfig, uploads and
 * port forwards. The script's effects are modelled on a small state record
 * (sysctl file, disks and file systems, fstab, mount, binary, unit, service)
 * step by step as bootstrap.sh does them, with the same step names and
 * result line; the script itself is tested on the lab's seed host.
 *
 * Faults: the connection drops after a given bootstrap step (so the next
 * attempt meets a half-done host), the K3s API never becomes ready, SSH
 * refuses for a number of attempts or for ever, the host key changes.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import {
  HostKeyMismatchError,
  shq,
  SshCommandError,
  SshConnectionLostError,
  type ExecOptions,
  type ExecResult,
  type PortForward,
  type SshConnectOptions,
  type SshSession,
  type UploadResult,
} from '../../src/ssh/index.js';
import { BOOTSTRAP_SCRIPT } from '../../src/layers/seed-k3s/bootstrap-script.js';

/** The API address K3s writes into its kubeconfig, as seen on the seed. */
const API = { host: '127.0.0.1', port: 6443 };
const KUBECONFIG_PATH = '/etc/rancher/k3s/k3s.yaml';

export const SEED_HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKO2o17a5ph0qpBeKmvDThHcjktZCMkV9K7HtaPqn97z';
export const OTHER_HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk';

/** Test key material: an opaque string the fake compares, never parsed as a key. */
export const SEED_PRIVATE_KEY = 'fake-private-key-for-unit-tests';

/** A fake K3s binary: its content names the version it reports, like `k3s --version` would. */
export function fakeK3sBinary(dir: string, version: string): string {
  const file = `${dir}/k3s-${version}`;
  fs.writeFileSync(file, `#!/bin/sh\necho "k3s version ${version} (fake)"\n`);
  return file;
}

export interface SeedState {
  sysctl: boolean;
  /** Disks by their /dev/disk/by-id serial (the volume id's first 20 characters) -> file system UUID, or '' when blank. */
  fileSystems: Map<string, string>;
  fstab?: string;
  mounted?: string;
  /** Content of /usr/local/bin/k3s. */
  binary?: Buffer;
  unit: boolean;
  enabled: boolean;
  active: boolean;
  restartPending: boolean;
  /** Files uploaded to the login user's home, by `~/` path. */
  home: Map<string, Buffer>;
}

export interface Connection {
  host: string;
  port: number;
  user: string;
}

export interface FakeSeedHostOptions {
  /** Where sshd answers (default: any address, port 22). */
  address?: string;
  port?: number;
  user?: string;
  /** Volume ids attached to the VM (default: none); read on every bootstrap. */
  attachedVolumes?: () => string[];
}

/** Bootstrap steps, in the order bootstrap.sh takes them. */
export type BootstrapStep =
  'sysctl' | 'format' | 'fstab' | 'mount' | 'binary' | 'unit' | 'enable' | 'restart' | 'start';

export class FakeSeedHost {
  readonly state: SeedState = {
    sysctl: false,
    fileSystems: new Map(),
    unit: false,
    enabled: false,
    active: false,
    restartPending: false,
    home: new Map(),
  };
  hostKey = SEED_HOST_KEY;
  readonly connections: Connection[] = [];
  readonly commands: string[] = [];
  /** Files actually sent (an upload of what is already there sends nothing). */
  readonly uploads: string[] = [];
  /** Bootstrap runs, as the result line reported them. */
  readonly bootstraps: Array<{ mode: string; steps: string[] }> = [];
  /** Connection attempts to refuse before sshd answers (Infinity: never). */
  refuseConnections = 0;
  /** The next bootstrap apply loses the connection right after this step took effect. */
  dropAfter?: BootstrapStep;
  /** K3s runs but its API never answers /readyz. */
  apiBroken = false;
  /** The API is fine on the seed, but forwarded connections go nowhere (sshd forbids forwarding). */
  tunnelBroken = false;
  private readonly forwards = new Map<number, { remote: { host: string; port: number }; open: boolean }>();
  private nextLocalPort = 40000;
  private readonly sessions = new Set<FakeSession>();

  constructor(private readonly o: FakeSeedHostOptions = {}) {}

  /** `connect` for `waitForSsh`: what sshd would do with this attempt. */
  readonly connect = async (c: SshConnectOptions): Promise<SshSession> => {
    if ((this.o.address && c.host !== this.o.address) || c.port !== (this.o.port ?? 22)) {
      throw Object.assign(new Error(`connect ECONNREFUSED ${c.host}:${c.port}`), { code: 'ECONNREFUSED' });
    }
    if (this.refuseConnections > 0) {
      this.refuseConnections--;
      throw Object.assign(new Error(`connect ECONNREFUSED ${c.host}:${c.port}`), { code: 'ECONNREFUSED' });
    }
    if (c.hostKey && c.hostKey !== this.hostKey)
      throw new HostKeyMismatchError(`${c.host}:${c.port}`, c.hostKey, this.hostKey);
    if (c.user !== (this.o.user ?? 'ubuntu') || c.privateKey !== SEED_PRIVATE_KEY) {
      throw new Error('All configured authentication methods failed');
    }
    this.connections.push({ host: c.host, port: c.port, user: c.user });
    const s = new FakeSession(this, !c.hostKey);
    this.sessions.add(s);
    return s;
  };

  /** The `apiVersion` probe for seed-k3s: answers only through an open forward to K3s's API. */
  readonly apiVersion = async (kubeconfig: string): Promise<string> => {
    const m = /server: https:\/\/127\.0\.0\.1:(\d+)/.exec(kubeconfig);
    const fwd = m ? this.forwards.get(Number(m[1])) : undefined;
    if (!fwd?.open || this.tunnelBroken) throw new Error(`connect ECONNREFUSED 127.0.0.1:${m?.[1] ?? '?'}`);
    if (fwd.remote.host !== API.host || fwd.remote.port !== API.port) throw new Error('socket hang up');
    if (!this.apiReady()) throw new Error('read ECONNRESET');
    return this.version() ?? '';
  };

  /** Every session is cut, as when the VM reboots or the network drops. */
  dropConnections(): void {
    for (const s of this.sessions) s.closed = true;
    for (const f of this.forwards.values()) f.open = false;
  }

  openForwards(): number {
    return [...this.forwards.values()].filter((f) => f.open).length;
  }

  version(): string | undefined {
    return this.state.binary ? /k3s version (\S+)/.exec(this.state.binary.toString())?.[1] : undefined;
  }

  apiReady(): boolean {
    return this.state.active && this.state.binary !== undefined && !this.apiBroken;
  }

  /** Where the bootstrap would find the data disk of a volume id. */
  attach(volumeId: string): void {
    if (!this.state.fileSystems.has(volumeId.slice(0, 20))) this.state.fileSystems.set(volumeId.slice(0, 20), '');
  }

  forward(host: string, port: number): PortForward {
    const local = this.nextLocalPort++;
    const f = { remote: { host, port }, open: true };
    this.forwards.set(local, f);
    return {
      port: local,
      remote: { host, port },
      close: async () => {
        f.open = false;
      },
    };
  }

  /** One command, as the seed's shell would run it. */
  run(command: string, log: (line: string) => void): ExecResult {
    this.commands.push(command);
    if (command === `sudo -n cat "\${CAPI_MGMT_ROOT:-}${KUBECONFIG_PATH}"`) {
      if (!this.state.active)
        return { code: 1, stdout: '', stderr: `cat: ${KUBECONFIG_PATH}: No such file or directory` };
      return { code: 0, stdout: kubeconfig(), stderr: '' };
    }
    const script = ` bash -c ${shq(BOOTSTRAP_SCRIPT)} capi-mgmt-bootstrap`;
    if (command.startsWith('sudo -n env ') && command.endsWith(script)) {
      return new Bootstrap(this, envOf(command.slice('sudo -n env '.length, -script.length)), log).run();
    }
    return { code: 127, stdout: '', stderr: `the fake seed does not understand: ${command.slice(0, 80)}` };
  }

  attachedIds(): string[] {
    for (const id of this.o.attachedVolumes?.() ?? []) this.attach(id);
    return [...this.state.fileSystems.keys()];
  }
}

class FakeSession implements SshSession {
  closed = false;

  constructor(
    private readonly host: FakeSeedHost,
    readonly trustedOnFirstUse: boolean,
  ) {}

  get hostKey(): string {
    return this.host.hostKey;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) throw new SshConnectionLostError(`running ${command.slice(0, 40)}`);
    const out: string[] = [];
    const r = this.host.run(command, (line) => {
      out.push(line);
      opts.log?.(`${opts.prefix ?? ''}${line}`);
      opts.onLine?.(line);
    });
    return { ...r, stdout: r.stdout || (out.length ? `${out.join('\n')}\n` : '') };
  }

  async run(command: string, opts?: ExecOptions): Promise<ExecResult> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw new SshCommandError(command, r);
    return r;
  }

  async upload(source: { path: string } | { data: Buffer }, remote: string): Promise<UploadResult> {
    if (this.closed) throw new SshConnectionLostError(`uploading ${remote}`);
    const data = 'path' in source ? fs.readFileSync(source.path) : source.data;
    const sha256 = createHash('sha256').update(data).digest('hex');
    const have = this.host.state.home.get(remote);
    if (have && createHash('sha256').update(have).digest('hex') === sha256) return { sha256, uploaded: false };
    this.host.state.home.set(remote, data);
    this.host.uploads.push(remote);
    return { sha256, uploaded: true };
  }

  async forwardLocal(host: string, port: number): Promise<PortForward> {
    if (this.closed) throw new SshConnectionLostError('opening a port forward');
    return this.host.forward(host, port);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/** bootstrap.sh's logic on the fake's state; same step names, same messages for the errors tests look at. */
class Bootstrap {
  private readonly steps: string[] = [];
  private readonly apply: boolean;

  constructor(
    private readonly host: FakeSeedHost,
    private readonly env: Record<string, string>,
    private readonly log: (line: string) => void,
  ) {
    this.apply = env.MODE === 'apply';
  }

  private step(name: BootstrapStep, act: () => void): void {
    this.steps.push(name);
    this.log(this.apply ? name : `would ${name}`);
    if (!this.apply) return;
    act();
    if (this.host.dropAfter === name) {
      this.host.dropAfter = undefined;
      this.host.dropConnections();
      throw new SshConnectionLostError('running the K3s bootstrap');
    }
  }

  private die(message: string): ExecResult {
    return { code: 1, stdout: '', stderr: `error: ${message}\n` };
  }

  run(): ExecResult {
    const s = this.host.state;
    const version = this.env.K3S_VERSION ?? '';
    if (!['apply', 'check'].includes(this.env.MODE ?? '')) return this.die(`MODE must be apply or check`);

    if (!s.sysctl) this.step('sysctl', () => (s.sysctl = true));

    if (this.env.DATA_DEVICE !== 'none') {
      const id = this.env.DATA_VOLUME_ID;
      if (!id) return this.die('neither DATA_VOLUME_ID nor DATA_DEVICE is set: cannot find the data volume');
      const serial = id.slice(0, 20);
      if (!this.host.attachedIds().includes(serial)) {
        return this.die(`data volume ${id} is not attached: no /dev/disk/by-id/*${serial}* on this host`);
      }
      this.log(`data volume: /dev/disk/by-id/virtio-${serial}`);
      if (s.fileSystems.get(serial) === '') {
        this.step('format', () => s.fileSystems.set(serial, `uuid-${serial}`));
      }
      const uuid = s.fileSystems.get(serial);
      const line = `UUID=${uuid} /var/lib/rancher/k3s xfs defaults,nofail 0 2`;
      if (uuid && s.fstab !== line) this.step('fstab', () => (s.fstab = line));
      if (s.mounted !== serial) this.step('mount', () => (s.mounted = serial));
    } else {
      this.log('no data volume (none attached by design): K3s state stays on the root disk');
    }

    if (this.apply) {
      const staged = this.env.K3S_BINARY ?? '';
      const file = s.home.get(staged);
      if (!file) return this.die(`the uploaded K3s binary ${staged} is missing`);
      const sha = createHash('sha256').update(file).digest('hex');
      if (sha !== this.env.K3S_SHA256)
        return this.die(`the uploaded K3s binary ${staged} does not match sha256 ${this.env.K3S_SHA256}`);
      const installed = s.binary ? createHash('sha256').update(s.binary).digest('hex') : '';
      if (installed !== sha) {
        this.step('binary', () => {
          s.restartPending = true;
          s.binary = file;
        });
      }
      const got = this.host.version() ?? '';
      if (got !== version) return this.die(`the installed K3s binary reports version '${got}', expected ${version}`);
    } else if (this.host.version() !== version) {
      this.steps.push('binary');
      this.log('would binary');
    }

    if (!s.unit) {
      this.step('unit', () => {
        s.restartPending = true;
        s.unit = true;
      });
    }
    if (!s.enabled) this.step('enable', () => (s.enabled = true));
    if (s.restartPending) {
      this.step('restart', () => {
        s.active = true;
        s.restartPending = false;
      });
    } else if (!s.active) this.step('start', () => (s.active = true));

    // apply waits for the API (and gives up); check only looks.
    const healthy = this.host.apiReady();
    if (this.apply && !healthy) {
      return this.die(
        `the K3s API did not become ready within ${this.env.K3S_API_TIMEOUT ?? 300}s (see: journalctl -u k3s-server)`,
      );
    }

    this.host.bootstraps.push({ mode: this.env.MODE!, steps: [...this.steps] });
    this.log(
      `CAPI_MGMT_RESULT mode=${this.env.MODE} changed=${this.steps.length ? 1 : 0} steps=${this.steps.join(',') || '-'} version=${this.host.version() ?? ''} healthy=${healthy ? 1 : 0}`,
    );
    return { code: 0, stdout: '', stderr: '' };
  }
}

/** `A='x' B="y" C=z` as the remote shell would read it (only the quoting bootstrapCommand uses). */
function envOf(assignments: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const m of assignments.matchAll(/(\w+)=((?:'[^']*'|\\'|"[^"]*"|[^\s'"\\]+)+)/g)) {
    let value = '';
    for (const p of m[2]!.matchAll(/'([^']*)'|\\(')|"([^"]*)"|([^\s'"\\]+)/g))
      value += p[1] ?? p[2] ?? p[3] ?? p[4] ?? '';
    // The login environment's CAPI_MGMT_ROOT is unset on a seed; $HOME is where `~/` uploads went.
    env[m[1]!] = value.replace('${CAPI_MGMT_ROOT:-}', '').replace(/^\$HOME\//, '~/');
  }
  return env;
}

function kubeconfig(): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: default
    cluster:
      server: https://${API.host}:${API.port}
      certificate-authority-data: ZmFrZS1jYQ==
users:
  - name: default
    user:
      client-certificate-data: ZmFrZS1jZXJ0
      client-key-data: ZmFrZS1rZXktZm9yLXRlc3Rz
contexts:
  - name: default
    context: { cluster: default, user: default }
current-context: default
`;
}
