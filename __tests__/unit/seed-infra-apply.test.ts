/**
 * seed-infra's apply path on the in-memory OpenStack: the real layer and the
 * real REST client over a fake transport. Covers what the lab tests cover
 * (create, no-op re-run, drift repair, destroy) in a fraction of the time,
 * and what the lab cannot produce on demand: answers lost after the cloud
 * acted, 5xx on reads, statuses that never arrive, servers that go to ERROR.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { seedInfraLayer, seedInfraOutputs, type SeedInfraOutputs } from '../../src/layers/seed-infra/index.js';
import type { WaitSettings } from '../../src/layers/seed-infra/apply.js';
import { hasChanges } from '../../src/plan/plan.js';
import { Redactor } from '../../src/util/redact.js';
import { FakeOpenStack, type FakeOpenStackOptions, type Inventory } from '../fakes/openstack.js';
import { MemoryLogger } from '../helpers/logger.js';
import { OTHER_KEY, seedDesired } from '../helpers/seed-infra-fixture.js';

const QUICK: WaitSettings = { serverMs: 5000, volumeMs: 5000, floatingIpMs: 5000, deleteMs: 5000, intervalMs: 0 };
const SEED = 'capi-mgmt-unit-seed';

const ONE_SEED: Inventory = {
  securityGroups: 1,
  networks: 1,
  subnets: 1,
  routers: 1,
  // the server's port and the router's interface
  ports: 2,
  keypairs: 1,
  volumes: 1,
  servers: 1,
  floatingIps: 1,
};
const NOTHING: Inventory = {
  securityGroups: 0,
  networks: 0,
  subnets: 0,
  routers: 0,
  ports: 0,
  keypairs: 0,
  volumes: 0,
  servers: 0,
  floatingIps: 0,
};

function world(o: FakeOpenStackOptions = {}, seed: Record<string, unknown> = { dataVolume: { size: 10 } }) {
  const cloud = new FakeOpenStack(o);
  const desired = seedDesired(seed);
  /** A fresh run: new client, new engine, like a new process. */
  const engine = (waits: Partial<WaitSettings> = {}, log = new MemoryLogger()) =>
    new Engine({
      desired,
      layers: [seedInfraLayer({ client: cloud.client(), waits: { ...QUICK, ...waits } })],
      log,
      redactor: new Redactor(),
    });
  return { cloud, desired, engine, operator: cloud.client() };
}

const realChanges = (cs: ReadonlyArray<{ action: string; address: string }>) =>
  cs.filter((c) => c.action !== 'no-op').map((c) => `${c.action} ${c.address}`);

describe('seed-infra apply on the fake OpenStack', () => {
  it('creates everything from nothing, hands on its outputs, and then plans no changes', async () => {
    const { cloud, engine } = world();
    const e = engine();
    const r = await e.apply();
    expect(realChanges(r.applied).sort()).toEqual(
      [
        'create floating-ip/capi-mgmt-unit-seed',
        'create keypair/capi-mgmt-unit-seed',
        'create network/capi-mgmt-unit-seed',
        'create router-interface/capi-mgmt-unit-seed',
        'create router/capi-mgmt-unit-seed',
        'create security-group/capi-mgmt-unit-seed',
        'create server/capi-mgmt-unit-seed',
        'create subnet/capi-mgmt-unit-seed',
        'create volume-attachment/capi-mgmt-unit-seed-data',
        'create volume/capi-mgmt-unit-seed-data',
      ].sort(),
    );
    expect(cloud.inventory()).toEqual(ONE_SEED);

    const server = [...cloud.servers.values()][0]!;
    const volume = [...cloud.volumes.values()][0]!;
    const fip = [...cloud.floatingIps.values()][0]!;
    expect(server).toMatchObject({ name: SEED, status: 'ACTIVE', tags: ['capi-mgmt:unit'] });
    expect(volume).toMatchObject({ name: `${SEED}-data`, status: 'in-use', size: 10 });
    expect(fip).toMatchObject({ status: 'ACTIVE', tags: ['capi-mgmt:unit'] });
    // Only the configured rules remain: SSH from anywhere, IPv4 egress (the default IPv6 egress rule went).
    const rules = [...cloud.rules.values()].map(
      (x) => `${String(x.direction)} ${String(x.ethertype)} ${String(x.protocol)}`,
    );
    expect(rules.sort()).toEqual(['egress IPv4 null', 'ingress IPv4 tcp']);
    expect(e.outputs.get(seedInfraOutputs)).toMatchObject<SeedInfraOutputs>({
      endpoint: { host: String(fip.floating_ip_address), port: 22, user: 'ubuntu' },
      dataVolume: { state: 'created', id: String(volume.id) },
      keypairName: SEED,
    });

    cloud.clearLog();
    const again = await engine().apply();
    expect(hasChanges(again.plan)).toBe(false);
    expect(again.applied).toEqual([]);
    expect(cloud.writes()).toEqual([]);
  });

  it('runs independent creates at the same time, and a dependent one only after what it needs', async () => {
    // Every request takes 20 ms, so two creates overlap only if they are in flight together.
    const { cloud, engine } = world({ latencyMs: 20 });
    await engine().apply();
    const post = (path: string) => {
      const r = cloud.requests.find((x) => x.method === 'POST' && x.path === path && x.endedAt !== undefined);
      expect(r, `POST ${path}`).toBeDefined();
      return { start: r!.startedAt, end: r!.endedAt! };
    };
    const overlap = (a: { start: number; end: number }, b: { start: number; end: number }) =>
      a.start < b.end && b.start < a.end;
    const group = post('/security-groups');
    const network = post('/networks');
    const volume = post('/volumes');
    expect(overlap(group, network), 'security group and network created together').toBe(true);
    expect(overlap(network, volume), 'network and volume created together').toBe(true);
    expect(post('/subnets').start).toBeGreaterThanOrEqual(network.end);
    expect(post('/servers').start).toBeGreaterThanOrEqual(post('/subnets').end);
    expect(cloud.inventory()).toEqual(ONE_SEED);

    // The same apply with one step at a time: nothing overlaps, so the overlap above is the concurrency's doing.
    const serial = world({ latencyMs: 5 });
    await new Engine({
      desired: serial.desired,
      layers: [seedInfraLayer({ client: serial.cloud.client(), waits: QUICK, parallelism: 1 })],
      log: new MemoryLogger(),
      redactor: new Redactor(),
    }).apply();
    const writes = serial.cloud.writes().filter((r) => r.endedAt !== undefined);
    for (let i = 1; i < writes.length; i++)
      expect(writes[i]!.startedAt).toBeGreaterThanOrEqual(writes[i - 1]!.endedAt!);
  });

  it('repairs drift made behind its back and converges to no changes', async () => {
    const { cloud, engine, operator } = world();
    await engine().apply();
    const [sg] = await operator.listSecurityGroups({ name: SEED });
    const ssh = sg!.rules.find((x) => x.direction === 'ingress')!;
    await operator.deleteSecurityGroupRule(ssh.id);
    await operator.createSecurityGroupRule(sg!.id, {
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      portRangeMin: 3306,
      portRangeMax: 3306,
      remoteIpPrefix: '0.0.0.0/0',
    });
    const [net] = await operator.listNetworks({ name: SEED });
    await operator.setTags('networks', net!.id, []);
    const [fip] = await operator.listFloatingIps({});
    await operator.associateFloatingIp(fip!.id, null);
    await operator.deleteKeypair(SEED);

    const plan = await engine().plan();
    expect(realChanges(plan.changes).sort()).toEqual([
      'create keypair/capi-mgmt-unit-seed',
      'update floating-ip/capi-mgmt-unit-seed',
      'update network/capi-mgmt-unit-seed',
      'update security-group/capi-mgmt-unit-seed',
    ]);
    await engine().apply();
    expect(hasChanges(await engine().plan())).toBe(false);
    expect(cloud.inventory()).toEqual(ONE_SEED);
    expect([...cloud.rules.values()].some((x) => x.port_range_min === 3306)).toBe(false);
  });

  it('replaces a deleted server, re-attaches the data volume and moves the floating IP', async () => {
    const { cloud, engine, operator } = world();
    await engine().apply();
    const [old] = await operator.listServers({ name: SEED });
    const volumeId = [...cloud.volumes.keys()][0]!;
    await operator.deleteServer(old!.id);
    // Gone, not going: the fake's deletes settle by reads, so the operator watches it go.
    while (await operator.getServer(old!.id));

    await engine().apply();
    const [now] = await operator.listServers({ name: SEED });
    expect(now!.id).not.toBe(old!.id);
    expect(cloud.volumes.get(volumeId)).toMatchObject({ status: 'in-use', attached_to: now!.id });
    const port = [...cloud.ports.values()].find((p) => p.device_id === now!.id)!;
    expect([...cloud.floatingIps.values()][0]).toMatchObject({ port_id: port.id, status: 'ACTIVE' });
    expect(hasChanges(await engine().plan())).toBe(false);
  });

  it('grows the data volume in place when the config asks for more', async () => {
    const { cloud, engine } = world();
    await engine().apply();
    const bigger = new Engine({
      desired: seedDesired({ dataVolume: { size: 20 } }),
      layers: [seedInfraLayer({ client: cloud.client(), waits: QUICK })],
      log: new MemoryLogger(),
      redactor: new Redactor(),
    });
    const r = await bigger.apply();
    expect(realChanges(r.applied)).toEqual(['update volume/capi-mgmt-unit-seed-data']);
    expect([...cloud.volumes.values()][0]).toMatchObject({ size: 20, status: 'in-use' });
    expect(cloud.count('POST', /\/volumes\/[^/]+\/action$/)).toBe(1);
  });

  it('replaces the key pair and the server when the public key changes', async () => {
    const { cloud, engine } = world();
    await engine().apply();
    const oldServer = [...cloud.servers.keys()][0];
    const rekeyed = new Engine({
      desired: seedDesired({ dataVolume: { size: 10 }, sshPublicKey: OTHER_KEY }),
      layers: [seedInfraLayer({ client: cloud.client(), waits: QUICK })],
      log: new MemoryLogger(),
      redactor: new Redactor(),
    });
    const r = await rekeyed.apply();
    expect(realChanges(r.applied)).toEqual(
      expect.arrayContaining(['replace keypair/capi-mgmt-unit-seed', 'replace server/capi-mgmt-unit-seed']),
    );
    expect(cloud.keypairs.get(SEED)!.public_key).toBe(OTHER_KEY);
    expect([...cloud.servers.keys()]).not.toContain(oldServer);
    expect(cloud.inventory()).toMatchObject({ servers: 1, volumes: 1, keypairs: 1 });
  });

  it('destroys everything it made, through in-use conflicts while ports linger, and a second destroy is a no-op', async () => {
    const { cloud, engine } = world({ settle: { portLinger: 10 } });
    await engine().apply();
    const r = await engine().destroy();
    expect(realChanges(r.applied).sort()).toEqual([
      'delete floating-ip/capi-mgmt-unit-seed',
      'delete keypair/capi-mgmt-unit-seed',
      'delete network/capi-mgmt-unit-seed',
      'delete router-interface/capi-mgmt-unit-seed',
      'delete router/capi-mgmt-unit-seed',
      'delete security-group/capi-mgmt-unit-seed',
      'delete server/capi-mgmt-unit-seed',
      'delete subnet/capi-mgmt-unit-seed',
      'delete volume/capi-mgmt-unit-seed-data',
    ]);
    expect(cloud.inventory()).toEqual(NOTHING);
    // Neutron said 409 while the server's port lingered, and the layer waited it out.
    expect(cloud.requests.some((x) => x.method === 'DELETE' && x.status === 409)).toBe(true);

    cloud.clearLog();
    const again = await engine().destroy();
    expect(again.applied).toEqual([]);
    expect(cloud.writes()).toEqual([]);
    // The cloud's own resources are untouched.
    expect(cloud.networks.size).toBe(1);
    expect(cloud.flavors).toHaveLength(3);
  });

  it('without block storage: no data volume, and K3s is told to use the root disk', async () => {
    const { cloud, engine } = world({ blockStorage: false });
    const e = engine();
    const r = await e.apply();
    expect(r.plan.notes.join('\n')).toMatch(/no block-storage service/);
    expect(cloud.inventory()).toMatchObject({ servers: 1, volumes: 0 });
    expect(e.outputs.get(seedInfraOutputs)?.dataVolume).toEqual({ state: 'no-block-storage' });
    expect(hasChanges(await engine().plan())).toBe(false);
  });

  describe('faults the lab cannot produce on demand', () => {
    it('a create whose answer is lost is looked up before any retry: one network, one POST', async () => {
      const { cloud, engine } = world();
      cloud.fault({ method: 'POST', path: /^\/networks$/, kind: 'lost' });
      cloud.fault({ method: 'POST', path: /^\/servers$/, kind: 'lost' });
      cloud.fault({ method: 'POST', path: /^\/volumes$/, kind: 'error-after' });
      cloud.fault({ method: 'POST', path: /^\/floatingips$/, kind: 'lost' });
      await engine().apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect(cloud.count('POST', /^\/networks$/)).toBe(1);
      expect(cloud.count('POST', /^\/servers$/)).toBe(1);
      expect(cloud.count('POST', /^\/volumes$/)).toBe(1);
      expect(cloud.count('POST', /^\/floatingips$/)).toBe(1);
      expect(hasChanges(await engine().plan())).toBe(false);
    });

    it('a 409 on create (an earlier attempt took effect, its answer lost): looked up and used, not fought', async () => {
      const { cloud, engine } = world();
      cloud.fault({ method: 'POST', path: /^\/os-keypairs$/, kind: 'exists-first' });
      cloud.fault({ method: 'POST', path: /^\/security-group-rules$/, kind: 'exists-first' });
      cloud.fault({ method: 'PUT', path: /\/add_router_interface$/, kind: 'exists-first' });
      cloud.fault({ method: 'POST', path: /\/os-volume_attachments$/, kind: 'exists-first' });
      await engine().apply();
      const statuses = (m: string, p: RegExp) =>
        cloud.requests.filter((x) => x.method === m && p.test(x.path)).map((x) => x.status);
      expect(statuses('POST', /^\/os-keypairs$/)).toEqual([409]);
      expect(statuses('POST', /^\/security-group-rules$/)).toEqual([409]);
      expect(statuses('PUT', /\/add_router_interface$/)).toEqual([400]);
      expect(statuses('POST', /\/os-volume_attachments$/)).toEqual([400]);
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect([...cloud.rules.values()]).toHaveLength(2);
      expect(hasChanges(await engine().plan())).toBe(false);
    });

    it('a 503 on a read is retried; a read that keeps failing stops the run before any write, naming the call', async () => {
      const { cloud, engine } = world();
      cloud.fault({ method: 'GET', path: /^\/servers\/detail$/, kind: 'unavailable', times: 2 });
      await engine().apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);

      const broken = world();
      broken.cloud.fault({ method: 'GET', path: /^\/routers$/, kind: 'unavailable', times: Infinity });
      await expect(broken.engine().apply()).rejects.toThrow(/network: GET \/v2\.0\/routers returned 503/);
      expect(broken.cloud.writes()).toEqual([]);
    });

    it('a server that never leaves BUILD fails with a timeout naming it; the next run picks up without a duplicate', async () => {
      const { cloud, engine } = world({ settle: { serverBuild: Infinity } });
      await expect(engine({ serverMs: 50 }).apply()).rejects.toThrow(
        /timed out after \d+ s waiting for server capi-mgmt-unit-seed to become ACTIVE \(last seen: status BUILD\)/,
      );
      // The stuck server finishes building after all; the next run adopts it.
      cloud.unstick();
      await engine().apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect(cloud.count('POST', /^\/servers$/)).toBe(1);
    });

    it('a volume that never becomes available fails with a timeout naming it', async () => {
      const { engine } = world({ settle: { volumeCreate: Infinity } });
      await expect(engine({ volumeMs: 50 }).apply()).rejects.toThrow(
        /waiting for volume capi-mgmt-unit-seed-data to become available \(last seen: status creating\)/,
      );
    });

    it('a server that goes to ERROR fails the run; the next run replaces it', async () => {
      const { cloud, engine } = world();
      cloud.nextServerFault = 'No valid host was found.';
      await expect(engine().apply()).rejects.toThrow(/went to ERROR: No valid host was found/);
      const plan = await engine().plan();
      expect(plan.changes.find((c) => c.address === `server/${SEED}`)).toMatchObject({
        action: 'replace',
        reason: expect.stringMatching(/in ERROR \(No valid host was found.\)/),
      });
      await engine().apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect([...cloud.servers.values()][0]).toMatchObject({ status: 'ACTIVE' });
    });

    it('a crash after a create and before its tag: the marker claims it and the next run tags it', async () => {
      const { cloud, engine } = world();
      cloud.fault({ method: 'PUT', path: /^\/routers\/[^/]+\/tags$/, kind: 'refused', times: Infinity });
      await expect(engine().apply()).rejects.toThrow(/PUT \/v2\.0\/routers\/[^/]+\/tags failed after 6 attempt/);
      expect(cloud.inventory().routers).toBe(1);
      cloud.clearFaults();
      const plan = await engine().plan();
      expect(plan.changes.find((c) => c.address === `router/${SEED}`)).toMatchObject({ action: 'update' });
      await engine().apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect([...cloud.routers.values()][0]!.tags).toEqual(['capi-mgmt:unit']);
    });

    it('a token revoked mid-run: the client logs in again and carries on', async () => {
      const { cloud, engine } = world();
      const e = engine();
      await e.plan();
      cloud.revokeTokens();
      await e.apply();
      expect(cloud.inventory()).toEqual(ONE_SEED);
      expect(cloud.requests.filter((x) => x.status === 401).length).toBeGreaterThan(0);
    });
  });
});
