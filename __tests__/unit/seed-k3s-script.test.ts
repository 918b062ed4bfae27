/**
 * The bootstrap script's own logic, run locally (no SSH) in a temporary root
 * with the lab's OS stand-ins first on PATH and a tiny fake K3s.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBootstrapResult, type BootstrapResult } from '../../src/layers/seed-k3s/result.js';
import { SCRIPT_PATH } from '../../src/layers/seed-k3s/embed.js';

const STANDINS = path.resolve('test/lab/seed-host/standins');
const VOLUME_ID = '7f3c2a10-58e1-4d2b-9a77-0c1d2e3f4a5b';

/** Answers --version, "runs" as a server that writes k3s.yaml, and says the API is ready once it has. */
const fakeK3s = (version: string) => `#!/usr/bin/env bash
case "$1" in
  --version) echo "k3s version ${version} (fake)" ;;
  server) mkdir -p "$CAPI_MGMT_ROOT/etc/rancher/k3s"; echo "server: https://127.0.0.1:6443" > "$CAPI_MGMT_ROOT/etc/rancher/k3s/k3s.yaml"; exec sleep 600 ;;
  kubectl) [[ -s "$CAPI_MGMT_ROOT/etc/rancher/k3s/k3s.yaml" ]] && echo ok ;;
esac
`;

let sb: string;
let root: string;

beforeEach(() => {
  sb = fs.mkdtempSync(path.join(os.tmpdir(), 'seed-k3s-script-'));
  root = path.join(sb, 'root');
  fs.mkdirSync(path.join(root, 'dev/disk/by-id'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dev/vdb'), '');
  fs.symlinkSync('../../vdb', path.join(root, 'dev/disk/by-id', `virtio-${VOLUME_ID.slice(0, 20)}`));
});

afterEach(() => {
  // Stop the fake K3s server the systemctl stand-in started (its own process group).
  const pidFile = path.join(sb, 'state/units/k3s-server.pid');
  if (fs.existsSync(pidFile)) {
    try {
      process.kill(-Number(fs.readFileSync(pidFile, 'utf8')), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  fs.rmSync(sb, { recursive: true, force: true });
});

function stageBinary(version: string): { path: string; sha256: string } {
  const p = path.join(sb, `k3s-${version}`);
  fs.writeFileSync(p, fakeK3s(version), { mode: 0o755 });
  return { path: p, sha256: createHash('sha256').update(fs.readFileSync(p)).digest('hex') };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  result: BootstrapResult | undefined;
  calls: string[];
}

let callsSeen = 0;
function bootstrap(env: Record<string, string>, o: { fault?: string } = {}): Run {
  if (o.fault) fs.writeFileSync(path.join(sb, 'fault'), o.fault);
  // setsid: the script gets its own process group, which a fault stand-in kills (a dropped session).
  const r = spawnSync('setsid', ['bash', '-c', 'export CAPI_LAB_SESSION_PGID=$$; exec bash "$0"', SCRIPT_PATH], {
    env: {
      PATH: `${STANDINS}:${process.env.PATH ?? ''}`,
      HOME: sb,
      CAPI_LAB_SANDBOX_DIR: sb,
      CAPI_MGMT_ROOT: root,
      K3S_API_TIMEOUT: '10',
      ...env,
    },
    encoding: 'utf8',
    // Not a socket on stdin: bash would take that for rshd and read ~/.bashrc.
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  const all = fs.existsSync(path.join(sb, 'calls.log'))
    ? fs.readFileSync(path.join(sb, 'calls.log'), 'utf8').split('\n').filter(Boolean)
    : [];
  const calls = all.slice(callsSeen);
  callsSeen = all.length;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, result: parseBootstrapResult(r.stdout), calls };
}

function applyEnv(version: string, extra: Record<string, string> = {}): Record<string, string> {
  const bin = stageBinary(version);
  return {
    MODE: 'apply',
    K3S_VERSION: version,
    K3S_BINARY: bin.path,
    K3S_SHA256: bin.sha256,
    DATA_VOLUME_ID: VOLUME_ID,
    ...extra,
  };
}

describe('bootstrap.sh', () => {
  beforeEach(() => {
    callsSeen = 0;
  });

  it('bootstraps from scratch, then a re-run changes nothing', () => {
    const first = bootstrap(applyEnv('v1.34.8+k3s1'));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.result).toEqual({
      mode: 'apply',
      changed: true,
      steps: ['sysctl', 'format', 'fstab', 'mount', 'binary', 'unit', 'enable', 'restart'],
      version: 'v1.34.8+k3s1',
      healthy: true,
    });
    expect(first.calls).toEqual(
      expect.arrayContaining([
        `mkfs.xfs -q -L k3s-data ${root}/dev/vdb`,
        `mount -t xfs ${root}/dev/vdb ${root}/var/lib/rancher/k3s`,
        'systemctl daemon-reload',
        'systemctl restart k3s-server',
      ]),
    );
    expect(fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8')).toMatch(
      /^UUID=[0-9a-f-]{36} \/var\/lib\/rancher\/k3s xfs defaults,nofail 0 2\n$/,
    );
    expect(fs.readFileSync(path.join(sb, 'state/sysctl/fs.inotify.max_user_watches'), 'utf8').trim()).toBe('1308496');
    const unit = fs.readFileSync(path.join(root, 'etc/systemd/system/k3s-server.service'), 'utf8');
    expect(unit).toContain('ExecStart=/usr/local/bin/k3s server --disable traefik --write-kubeconfig-mode 0600');

    const again = bootstrap(applyEnv('v1.34.8+k3s1'));
    expect(again.code).toBe(0);
    expect(again.result).toMatchObject({ changed: false, steps: [], healthy: true });
    expect(again.calls.filter((c) => /^(mkfs|mount |systemctl (restart|start|daemon-reload|enable))/.test(c))).toEqual(
      [],
    );

    const check = bootstrap({ MODE: 'check', K3S_VERSION: 'v1.34.8+k3s1', DATA_VOLUME_ID: VOLUME_ID });
    expect(check.result).toMatchObject({ mode: 'check', changed: false, healthy: true });
  });

  it('keeps an existing fstab and replaces only its own line', () => {
    fs.mkdirSync(path.join(root, 'etc'), { recursive: true });
    fs.writeFileSync(
      path.join(root, 'etc/fstab'),
      'LABEL=root / ext4 defaults 0 1\n/dev/old /var/lib/rancher/k3s xfs defaults 0 2\n',
    );
    expect(bootstrap(applyEnv('v1.34.8+k3s1')).code).toBe(0);
    const lines = fs.readFileSync(path.join(root, 'etc/fstab'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe('LABEL=root / ext4 defaults 0 1');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^UUID=.* \/var\/lib\/rancher\/k3s xfs /);
  });

  it('upgrades in place: new binary, restart', () => {
    expect(bootstrap(applyEnv('v1.34.8+k3s1')).code).toBe(0);
    const up = bootstrap(applyEnv('v1.35.0+k3s1'));
    expect(up.result).toMatchObject({ changed: true, steps: ['binary', 'restart'], version: 'v1.35.0+k3s1' });
    expect(up.calls).toContain('systemctl restart k3s-server');
    expect(up.calls).not.toContain(`mkfs.xfs -q -L k3s-data ${root}/dev/vdb`);
  });

  it('restarts on the next run when a run died between installing and restarting', () => {
    expect(bootstrap(applyEnv('v1.34.8+k3s1')).code).toBe(0);
    const cut = bootstrap(applyEnv('v1.35.0+k3s1'), { fault: 'systemctl restart' });
    expect(cut.result).toBeUndefined();
    expect(cut.calls).toContain("fault: session dropped at 'systemctl restart k3s-server'");
    // The binary is already new, so only the pending-restart marker tells the re-run what is left.
    const rerun = bootstrap(applyEnv('v1.35.0+k3s1'));
    expect(rerun.result).toMatchObject({ changed: true, steps: ['restart'], version: 'v1.35.0+k3s1', healthy: true });
    expect(bootstrap(applyEnv('v1.35.0+k3s1')).result).toMatchObject({ changed: false });
  });

  it('fails clearly when the data volume is not attached', () => {
    const r = bootstrap(applyEnv('v1.34.8+k3s1', { DATA_VOLUME_ID: 'ffffffff-0000-0000-0000-000000000000' }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /data volume ffffffff-0000-0000-0000-000000000000 is not attached: no \/dev\/disk\/by-id\/\*ffffffff-0000-0000-0\* on this host/,
    );
    expect(r.calls.some((c) => c.startsWith('mkfs'))).toBe(false);
  });

  it('refuses to format a device that holds another file system', () => {
    fs.mkdirSync(path.join(sb, 'state/fs'), { recursive: true });
    fs.writeFileSync(path.join(sb, 'state/fs/vdb'), 'TYPE=ext4\nUUID=1234\n');
    const r = bootstrap(applyEnv('v1.34.8+k3s1'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/dev/vdb holds a ext4 file system, expected xfs; refusing to format it');
  });

  it('refuses an uploaded binary whose checksum does not match', () => {
    const r = bootstrap({ ...applyEnv('v1.34.8+k3s1'), K3S_SHA256: '0'.repeat(64) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/does not match sha256 0{64}/);
  });

  it('refuses a binary that reports another version than asked for', () => {
    const r = bootstrap({ ...applyEnv('v1.34.8+k3s1'), K3S_VERSION: 'v1.35.0+k3s1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("reports version 'v1.34.8+k3s1', expected v1.35.0+k3s1");
  });

  it('skips the data volume only when told there is none', () => {
    const r = bootstrap(applyEnv('v1.34.8+k3s1', { DATA_VOLUME_ID: '', DATA_DEVICE: 'none' }));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('no data volume (none attached by design)');
    expect(r.result!.steps).not.toContain('format');
  });

  it('check mode on a fresh host reports everything and changes nothing', () => {
    const r = bootstrap({ MODE: 'check', K3S_VERSION: 'v1.34.8+k3s1', DATA_VOLUME_ID: VOLUME_ID });
    expect(r.result).toEqual({
      mode: 'check',
      changed: true,
      steps: ['sysctl', 'format', 'mount', 'binary', 'unit', 'enable', 'start'],
      version: '',
      healthy: false,
    });
    expect(fs.existsSync(path.join(root, 'etc'))).toBe(false);
    expect(r.calls.filter((c) => !/^(blkid|mountpoint|systemctl is-)/.test(c))).toEqual([]);
  });
});
