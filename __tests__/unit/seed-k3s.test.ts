import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testDesired } from '../helpers/desired.js';
import { diffSeedK3s, type SeedK3sObserved } from '../../src/layers/seed-k3s/diff.js';
import { seedTarget } from '../../src/layers/seed-k3s/endpoint.js';
import { parseBootstrapResult } from '../../src/layers/seed-k3s/result.js';
import { bootstrapCommand } from '../../src/layers/seed-k3s/remote.js';
import { BOOTSTRAP_SCRIPT } from '../../src/layers/seed-k3s/bootstrap-script.js';
import { MODULE_PATH, renderScriptModule, SCRIPT_PATH } from '../../src/layers/seed-k3s/embed.js';
import { seedK3sLayer } from '../../src/layers/seed-k3s/index.js';
import { seedInfraOutputs, type SeedInfraOutputs } from '../../src/layers/seed-infra/outputs.js';
import { given, layerContext } from '../helpers/layer-context.js';

const PUB = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test';
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKO2o17a5ph0qpBeKmvDThHcjktZCMkV9K7HtaPqn97z';
const desired = (seed: Record<string, unknown> = {}, versions: Record<string, unknown> = {}) =>
  testDesired('prod', { seed: { sshPublicKey: PUB, ...seed }, versions });

const observed = (o: Partial<SeedK3sObserved> = {}): SeedK3sObserved => ({
  reachable: true,
  version: 'v1.34.8+k3s1',
  healthy: true,
  drift: [],
  ...o,
});

describe('seed-k3s diff', () => {
  const d = desired();

  it('plans create from desired alone when the seed does not exist yet', () => {
    const { changes } = diffSeedK3s(d, { reachable: false, healthy: false, drift: [] });
    expect(changes).toEqual([
      {
        layer: 'seed-k3s',
        address: 'k3s/capi-mgmt-prod-seed',
        action: 'create',
        after: { version: 'v1.34.8+k3s1', dataDir: '/var/lib/rancher/k3s', traefik: false },
        reason: expect.stringMatching(/does not exist yet/) as string,
      },
    ]);
  });

  it('installs when K3s is absent', () => {
    const [c] = diffSeedK3s(d, observed({ version: undefined, healthy: false })).changes;
    expect(c!.action).toBe('create');
    expect(c!.reason).toBe('install K3s v1.34.8+k3s1 on the seed');
  });

  it('upgrades when the version differs', () => {
    const [c] = diffSeedK3s(desired({}, { k3s: 'v1.35.1+k3s1' }), observed()).changes;
    expect(c!.action).toBe('update');
    expect(c!.before).toMatchObject({ version: 'v1.34.8+k3s1' });
    expect(c!.reason).toBe('upgrade K3s from v1.34.8+k3s1 to v1.35.1+k3s1');
  });

  it('repairs drift and an unhealthy API', () => {
    expect(diffSeedK3s(d, observed({ drift: ['mount', 'unit'] })).changes[0]).toMatchObject({
      action: 'update',
      reason: 'repair the seed: mount, unit',
    });
    expect(diffSeedK3s(d, observed({ healthy: false })).changes[0]!.action).toBe('update');
  });

  it('is a no-op otherwise', () => {
    expect(diffSeedK3s(d, observed()).changes[0]!.action).toBe('no-op');
  });

  it('notes a host key trusted on first use, with its fingerprint', () => {
    const { notes } = diffSeedK3s(d, observed({ hostKey: HOST_KEY, trustedOnFirstUse: true }));
    expect(notes).toEqual([expect.stringContaining('SHA256:TqAkC0TL9PEabUCW8T1WYP5TuYVzLhdNeduD4+hzRfM')]);
    expect(diffSeedK3s(d, observed({ hostKey: HOST_KEY, trustedOnFirstUse: false })).notes).toEqual([]);
  });
});

describe('seed SSH target', () => {
  it('is undefined until seed-infra reports an address or the config names one', () => {
    expect(seedTarget(desired(), undefined)).toBeUndefined();
    expect(seedTarget(desired(), { dataVolume: { state: 'not-created' } })).toBeUndefined();
  });

  it('takes the reported endpoint, with the configured user', () => {
    const t = seedTarget(desired(), {
      endpoint: { host: '203.0.113.7', port: 22, user: 'x', hostKey: HOST_KEY },
      dataVolume: { state: 'not-created' },
    });
    expect(t).toEqual({ host: '203.0.113.7', port: 22, user: 'ubuntu', hostKey: HOST_KEY });
  });

  it('lets seed.ssh override address, port, host key and jump host', () => {
    const t = seedTarget(
      desired({
        ssh: {
          address: '127.0.0.1',
          port: 22022,
          user: 'root',
          hostKey: HOST_KEY,
          jumpHost: { host: 'bastion', port: 2222, user: 'jump' },
        },
      }),
      { endpoint: { host: '203.0.113.7', port: 22, user: 'ubuntu' }, dataVolume: { state: 'not-created' } },
    );
    expect(t).toEqual({
      host: '127.0.0.1',
      port: 22022,
      user: 'root',
      hostKey: HOST_KEY,
      jumpHost: { host: 'bastion', port: 2222, user: 'jump' },
    });
  });
});

describe('bootstrap result line', () => {
  it('parses the last result line', () => {
    const out = 'sysctl\nCAPI_MGMT_RESULT mode=apply changed=1 steps=format,mount version=v1.34.8+k3s1 healthy=1\n';
    expect(parseBootstrapResult(out)).toEqual({
      mode: 'apply',
      changed: true,
      steps: ['format', 'mount'],
      version: 'v1.34.8+k3s1',
      healthy: true,
    });
  });

  it('reads "nothing changed" and an absent K3s', () => {
    expect(parseBootstrapResult('CAPI_MGMT_RESULT mode=check changed=0 steps=- version= healthy=0')).toEqual({
      mode: 'check',
      changed: false,
      steps: [],
      version: '',
      healthy: false,
    });
    expect(parseBootstrapResult('no result here')).toBeUndefined();
  });
});

describe('bootstrap command', () => {
  it('passes inputs through sudo and the root prefix from the login environment', () => {
    const cmd = bootstrapCommand({
      mode: 'apply',
      version: 'v1.34.8+k3s1',
      binary: { path: '~/.cache/capi-mgmt/k3s-v1.34.8+k3s1', sha256: 'ab12' },
      dataVolumeId: "0b1c'x",
      apiTimeoutSeconds: 60,
    });
    expect(cmd).toMatch(
      /^sudo -n env CAPI_MGMT_ROOT="\$\{CAPI_MGMT_ROOT:-\}" MODE=apply K3S_VERSION='v1\.34\.8\+k3s1' /,
    );
    expect(cmd).toContain(`K3S_BINARY="$HOME"/'.cache/capi-mgmt/k3s-v1.34.8+k3s1'`);
    expect(cmd).toContain(`DATA_VOLUME_ID='0b1c'\\''x'`);
    expect(cmd).toContain('K3S_API_TIMEOUT=60');
    expect(cmd).toMatch(/ capi-mgmt-bootstrap$/);
  });

  it('runs in a POSIX shell to the same script text', () => {
    const cmd = bootstrapCommand({ mode: 'check', version: 'v1' }).replace(/^sudo -n env /, 'env ');
    // Replace bash -c with printf to see what the remote shell hands to bash.
    const printed = execFileSync('sh', [
      '-c',
      cmd.replace(/ bash -c /, " printf '%s' ").replace(/ capi-mgmt-bootstrap$/, ''),
    ]);
    expect(printed.toString()).toBe(BOOTSTRAP_SCRIPT);
  });
});

describe('the embedded bootstrap script', () => {
  it('equals bootstrap.sh (regenerate: node --import tsx src/layers/seed-k3s/embed.ts)', () => {
    const script = fs.readFileSync(SCRIPT_PATH, 'utf8');
    expect(BOOTSTRAP_SCRIPT).toBe(script);
    expect(fs.readFileSync(MODULE_PATH, 'utf8')).toBe(renderScriptModule(script));
  });

  it('passes shellcheck', () => {
    // CI installs shellcheck; a developer machine without it should install it too.
    const out = execFileSync('shellcheck', ['--version']).toString();
    expect(out).toMatch(/version/);
    execFileSync('shellcheck', ['-x', SCRIPT_PATH], { stdio: 'pipe' });
  });

  it('and so do the lab seed host scripts', () => {
    const dir = 'test/lab/seed-host';
    const scripts = [
      ...fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.sh'))
        .map((f) => `${dir}/${f}`),
      ...fs.readdirSync(`${dir}/standins`).map((f) => `${dir}/standins/${f}`),
    ];
    execFileSync('shellcheck', ['-x', ...scripts], { stdio: 'pipe' });
  });
});

describe('seed-k3s layer without a seed', () => {
  const ctx = (infra?: SeedInfraOutputs) => layerContext(desired(), infra ? [given(seedInfraOutputs, infra)] : []);

  it('observes "not reachable" without touching the network', async () => {
    await expect(seedK3sLayer().observe(ctx())).resolves.toEqual({ reachable: false, healthy: false, drift: [] });
  });

  it('refuses to apply without an address or without the data volume id', async () => {
    const layer = seedK3sLayer({ k3sBinary: () => Promise.resolve('/nonexistent') });
    const obs = { reachable: false, healthy: false, drift: [] };
    await expect(layer.apply([], obs, ctx())).rejects.toThrow(/no SSH address for the seed/);
    const endpoint = { host: '203.0.113.7', port: 22, user: 'ubuntu' };
    await expect(layer.apply([], obs, ctx({ endpoint, dataVolume: { state: 'not-created' } }))).rejects.toThrow(
      /seed-infra has not created the seed data volume/,
    );
  });
});
