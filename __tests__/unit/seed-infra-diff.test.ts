import { describe, expect, it } from 'vitest';
import { diffDestroySeedInfra, diffSeedInfra } from '../../src/layers/seed-infra/diff.js';
import { pickExternalNetwork, pickFlavor } from '../../src/layers/seed-infra/resolve.js';
import { desiredRules, keyFingerprint, ruleKey } from '../../src/layers/seed-infra/spec.js';
import { outputsOf } from '../../src/layers/seed-infra/outputs.js';
import type { SeedInfraObserved } from '../../src/layers/seed-infra/observe.js';
import type { Change } from '../../src/plan/plan.js';
import { converged, FLAVORS, OTHER_KEY, seedDesired } from '../helpers/seed-infra-fixture.js';

const real = (cs: Change[]) =>
  cs
    .filter((c) => c.action !== 'no-op')
    .map((c) => `${c.action} ${c.address}`)
    .sort();
const N = 'capi-mgmt-unit-seed';

describe('seed-infra diff', () => {
  const desired = seedDesired();

  it('plans no changes when everything matches', () => {
    const d = diffSeedInfra(desired, converged(desired));
    expect(real(d.changes)).toEqual([]);
    expect(d.changes.length).toBe(10);
  });

  it('creates everything on an empty cloud', () => {
    const o: SeedInfraObserved = {
      ...converged(desired),
      securityGroups: [],
      networks: [],
      subnets: [],
      routers: [],
      routerPorts: [],
      keypair: undefined,
      volumes: [],
      servers: [],
      serverPorts: [],
      floatingIps: [],
    };
    expect(real(diffSeedInfra(desired, o).changes)).toEqual(
      [
        `create floating-ip/${N}`,
        `create keypair/${N}`,
        `create network/${N}`,
        `create router-interface/${N}`,
        `create router/${N}`,
        `create security-group/${N}`,
        `create server/${N}`,
        `create subnet/${N}`,
        `create volume-attachment/${N}-data`,
        `create volume/${N}-data`,
      ].sort(),
    );
  });

  it('updates the security group when a rule was deleted by hand or one was added', () => {
    const o = converged(desired);
    o.securityGroups[0]!.rules = [
      o.securityGroups[0]!.rules[1]!,
      {
        id: 'x',
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'tcp',
        portRangeMin: 80,
        portRangeMax: 80,
        remoteIpPrefix: '0.0.0.0/0',
      },
    ];
    const c = diffSeedInfra(desired, o).changes.find((x) => x.address === `security-group/${N}`)!;
    expect(c.action).toBe('update');
    expect(c.reason).toContain('missing: ingress IPv4 tcp 22 from 0.0.0.0/0');
    expect(c.reason).toContain('not wanted: ingress IPv4 tcp 80');
  });

  it('treats the default IPv6 egress rule as unwanted (default rules go)', () => {
    const o = converged(desired);
    o.securityGroups[0]!.rules.push({
      id: 'v6',
      direction: 'egress',
      ethertype: 'IPv6',
      protocol: null,
      portRangeMin: null,
      portRangeMax: null,
      remoteIpPrefix: null,
    });
    expect(real(diffSeedInfra(desired, o).changes)).toEqual([`update security-group/${N}`]);
  });

  it('re-creates a server deleted by hand, re-attaches the volume and re-associates the floating IP', () => {
    const o = converged(desired);
    o.servers = [];
    o.serverPorts = [];
    o.volumes[0]!.attachments = [];
    o.volumes[0]!.status = 'available';
    o.floatingIps[0]!.portId = null;
    expect(real(diffSeedInfra(desired, o).changes)).toEqual(
      [`create server/${N}`, `create volume-attachment/${N}-data`, `update floating-ip/${N}`].sort(),
    );
  });

  it('re-associates a disassociated floating IP', () => {
    const o = converged(desired);
    o.floatingIps[0]!.portId = null;
    const d = diffSeedInfra(desired, o);
    expect(real(d.changes)).toEqual([`update floating-ip/${N}`]);
    expect(d.changes.find((c) => c.action === 'update')!.reason).toContain('not associated');
  });

  it('replaces the server when the flavor changes, keeping and re-attaching the data volume', () => {
    const d2 = seedDesired({ flavor: { name: 'm1.xlarge' } });
    const d = diffSeedInfra(d2, converged(d2));
    expect(real(d.changes)).toEqual(
      [`replace server/${N}`, `replace volume-attachment/${N}-data`, `update floating-ip/${N}`].sort(),
    );
    const s = d.changes.find((c) => c.address === `server/${N}`)!;
    expect(s.reason).toContain('flavor c1.large -> m1.xlarge');
    expect(s.reason).toContain('data volume is kept');
    expect(d.changes.some((c) => c.address.startsWith('volume/') && c.action === 'delete')).toBe(false);
  });

  it('replaces keypair and server when the public key changes', () => {
    const d2 = seedDesired({ sshPublicKey: OTHER_KEY });
    expect(real(diffSeedInfra(d2, converged(seedDesired())).changes)).toEqual(
      [
        `replace keypair/${N}`,
        `replace server/${N}`,
        `replace volume-attachment/${N}-data`,
        `update floating-ip/${N}`,
      ].sort(),
    );
  });

  it('replaces the server when the image changes or it is in ERROR', () => {
    const o = converged(desired);
    o.servers[0]!.imageId = 'img-old';
    expect(real(diffSeedInfra(desired, o).changes)).toContain(`replace server/${N}`);
    const o2 = converged(desired);
    o2.servers[0]!.status = 'ERROR';
    o2.servers[0]!.fault = 'NoValidHost';
    const s = diffSeedInfra(desired, o2).changes.find((c) => c.address === `server/${N}`)!;
    expect(s.action).toBe('replace');
    expect(s.reason).toContain('NoValidHost');
  });

  it('errors naming both ids when two resources claim one identity', () => {
    const o = converged(desired);
    o.networks.push({ ...o.networks[0]!, id: 'net-2' });
    expect(() => diffSeedInfra(desired, o)).toThrow(/2 resources claim network\/capi-mgmt-unit-seed: net-1, net-2/);
  });

  it('adds a missing tag to a resource marked ours but never tagged (a crash between create and tag)', () => {
    const o = converged(desired);
    o.routers[0]!.tags = [];
    const c = diffSeedInfra(desired, o).changes.find((x) => x.address === `router/${N}`)!;
    expect(c.action).toBe('update');
    expect(c.reason).toContain('tag is missing');
  });

  it('grows the volume but never shrinks it', () => {
    const grow = seedDesired({ dataVolume: { size: 80 } });
    expect(real(diffSeedInfra(grow, converged(grow)).changes)).toEqual([`update volume/${N}-data`]);
    const shrink = seedDesired({ dataVolume: { size: 10 } });
    const d = diffSeedInfra(shrink, converged(shrink));
    expect(real(d.changes)).toEqual([]);
    expect(d.notes!.join('\n')).toContain('cannot shrink');
  });

  it('skips the data volume with a note when the cloud has no block storage', () => {
    const o = { ...converged(desired), blockStorage: false, volumes: [] };
    const d = diffSeedInfra(desired, o);
    expect(real(d.changes)).toEqual([]);
    expect(d.changes.some((c) => c.address.startsWith('volume'))).toBe(false);
    expect(d.notes!.join('\n')).toMatch(/no block-storage service.*skipped/);
  });

  it('uses an existing network: no network, subnet or router of its own', () => {
    const d2 = seedDesired({ network: { existing: { name: 'shared' } }, floatingIp: { mode: 'none' } });
    const o = converged(d2);
    o.existingNetworks = [
      { id: 'shared-1', name: 'shared', description: '', tags: [], external: false, status: 'ACTIVE' },
    ];
    o.serverPorts[0]!.networkId = 'shared-1';
    o.networks = [];
    o.subnets = [];
    o.routers = [];
    const d = diffSeedInfra(d2, o);
    expect(d.changes.some((c) => /^(network|subnet|router)/.test(c.address))).toBe(false);
    // mode none: the floating IP we once allocated goes
    expect(real(d.changes)).toEqual([`delete floating-ip/${N}[172.24.4.20]`]);
  });

  it('reports a missing flavor and image with the closest names', () => {
    expect(() => diffSeedInfra(seedDesired({ flavor: { name: 'm1.larg' } }), converged(desired))).toThrow(
      /flavor "m1.larg" not found; closest: "m1.large"/,
    );
    const o = { ...converged(desired), images: [], imageNames: ['ubuntu-jammy', 'ubuntu-noble', 'cirros'] };
    expect(() => diffSeedInfra(seedDesired({ image: { name: 'ubuntu-nobel' } }), o)).toThrow(/closest: "ubuntu-noble"/);
  });

  it('reports a missing existing network with the closest names', () => {
    const d2 = seedDesired({ network: { existing: { name: 'privat' } } });
    const o = { ...converged(d2), networkNames: ['private', 'public', 'shared'] };
    expect(() => diffSeedInfra(d2, o)).toThrow(/network "privat" not found; closest: "private"/);
  });

  it('requires exactly one external network unless one is named', () => {
    const ext = converged(desired).externalNetworks[0]!;
    expect(() => pickExternalNetwork(undefined, [])).toThrow(/no external network/);
    expect(() => pickExternalNetwork(undefined, [ext, { ...ext, id: 'ext-2', name: 'public2' }])).toThrow(
      /2 external networks/,
    );
    expect(pickExternalNetwork({ name: 'public2' }, [ext, { ...ext, id: 'ext-2', name: 'public2' }]).id).toBe('ext-2');
    expect(() => pickExternalNetwork({ name: 'publik' }, [ext])).toThrow(/closest: "public"/);
  });

  it('destroys everything in reverse dependency order, duplicates included', () => {
    const o = converged(desired);
    o.volumes.push({ ...o.volumes[0]!, id: 'vol-2' });
    const d = diffDestroySeedInfra(desired, o);
    expect(d.changes.every((c) => c.action === 'delete')).toBe(true);
    expect(d.changes.map((c) => c.address)).toEqual([
      `floating-ip/${N}`,
      `server/${N}`,
      `volume/${N}-data[vol-1]`,
      `volume/${N}-data[vol-2]`,
      `keypair/${N}`,
      `router-interface/${N}`,
      `router/${N}`,
      `subnet/${N}`,
      `network/${N}`,
      `security-group/${N}`,
    ]);
    const empty = {
      ...o,
      securityGroups: [],
      networks: [],
      subnets: [],
      routers: [],
      routerPorts: [],
      keypair: undefined,
      volumes: [],
      servers: [],
      serverPorts: [],
      floatingIps: [],
    };
    expect(diffDestroySeedInfra(desired, empty).changes).toEqual([]);
  });
});

describe('seed-infra helpers', () => {
  it('auto flavor: smallest with >=2 vCPU, >=8 GB RAM, >=20 GB disk, by RAM then vCPU then disk', () => {
    expect(pickFlavor('auto', FLAVORS).name).toBe('c1.large');
    expect(
      pickFlavor(
        'auto',
        FLAVORS.filter((f) => f.name !== 'c1.large'),
      ).name,
    ).toBe('m1.large');
    expect(() => pickFlavor('auto', FLAVORS.slice(0, 2))).toThrow(/no flavor with at least 2 vCPU/);
    expect(pickFlavor({ id: '5' }, FLAVORS).name).toBe('m1.xlarge');
  });

  it('rules: SSH from each CIDR, egress per family; 0.0.0.0/0 equals "any"', () => {
    const rules = desiredRules(['10.0.0.0/8', '2001:db8::/32']);
    expect(rules.map(ruleKey)).toEqual([
      'ingress IPv4 tcp 22 22 10.0.0.0/8',
      'ingress IPv6 tcp 22 22 2001:db8::/32',
      'egress IPv4 any * * any',
      'egress IPv6 any * * any',
    ]);
    expect(ruleKey({ ...rules[0]!, protocol: '6', remoteIpPrefix: '0.0.0.0/0' })).toBe(
      ruleKey({ ...rules[0]!, remoteIpPrefix: null }),
    );
  });

  it('key fingerprints ignore the comment', () => {
    expect(keyFingerprint('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk a')).toBe(
      keyFingerprint('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk b'),
    );
  });

  it('outputs: the floating IP, unless seed.ssh.address overrides it; the internal IP without one', () => {
    const d = seedDesired();
    const o = converged(d);
    const src = {
      server: o.servers[0],
      serverPorts: o.serverPorts,
      floatingIp: o.floatingIps[0],
      networkId: 'net-1',
      keypairName: 'k',
      externalNetworkId: 'ext-1',
      dataVolume: { state: 'created', id: 'vol-1' } as const,
    };
    expect(outputsOf(d, src).endpoint).toEqual({ host: '172.24.4.20', port: 22, user: 'ubuntu' });
    const over = seedDesired({
      ssh: {
        address: '127.0.0.1',
        port: 22022,
        user: 'root',
        hostKey: 'ssh-ed25519 AAAA',
        jumpHost: { host: 'bastion' },
      },
    });
    expect(outputsOf(over, src).endpoint).toEqual({
      host: '127.0.0.1',
      port: 22022,
      user: 'root',
      hostKey: 'ssh-ed25519 AAAA',
      jumpHost: { host: 'bastion', port: 22, user: 'ubuntu' },
    });
    const none = seedDesired({ floatingIp: { mode: 'none' } });
    expect(outputsOf(none, { ...src, floatingIp: undefined }).endpoint!.host).toBe('192.168.100.10');
    expect(outputsOf(d, { ...src, server: undefined }).endpoint).toBeUndefined();
    expect(outputsOf(d, src)).toMatchObject({
      networkId: 'net-1',
      keypairName: 'k',
      externalNetworkId: 'ext-1',
      dataVolume: { state: 'created', id: 'vol-1' },
    });
  });
});
