/**
 * seed-infra against the lab's real OpenStack: cold apply, a clean re-plan,
 * drift repaired case by case, and a destroy that leaves nothing tagged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChanges, type Plan } from '../../src/plan/plan.js';
import { seedInfraOutputs } from '../../src/layers/seed-infra/outputs.js';
import type { RestOpenStackClient } from '../../src/openstack/client.js';
import type { LoadedEnvironment } from '../../src/config/load.js';
import {
  inventory,
  labClient,
  labEnvironment,
  NOTHING,
  ONE_SEED,
  seedEngine,
  uniqueName,
} from '../helpers/seed-infra-lab.js';

const real = (p: Plan) =>
  p.changes
    .filter((c) => c.action !== 'no-op')
    .map((c) => `${c.action} ${c.address}`)
    .sort();

describe('seed-infra on the lab', () => {
  const name = uniqueName('si');
  let loaded: LoadedEnvironment;
  let seed: string;
  let demo: RestOpenStackClient;
  let admin: RestOpenStackClient;

  beforeAll(() => {
    loaded = labEnvironment(name);
    seed = loaded.desired.seedName;
    demo = labClient('lab');
    admin = labClient('lab-admin');
  });

  afterAll(async () => {
    // Whatever happened above, leave nothing behind.
    if (loaded) await seedEngine(labEnvironment(name)).engine.destroy();
  });

  const converge = async () => {
    const { engine } = seedEngine(loaded);
    const r = await engine.apply();
    const after = await seedEngine(loaded).engine.plan();
    expect(real(after)).toEqual([]);
    return { before: r.plan, engine };
  };

  it('cold apply creates one of everything, then plans no changes', async () => {
    const { engine } = seedEngine(loaded);
    const r = await engine.apply();
    expect(r.plan.counts.create).toBe(10);
    const out = engine.outputs.get(seedInfraOutputs)!;
    expect(out.endpoint?.host).toMatch(/^172\.24\.4\./);
    expect(out.endpoint).toMatchObject({ port: 22, user: 'ubuntu' });
    expect(out.networkId).toBeTruthy();
    expect(out.keypairName).toBe(seed);
    expect(out.externalNetworkId).toBeTruthy();
    expect(out.dataVolume).toMatchObject({ state: 'created', id: expect.any(String) });

    const again = seedEngine(loaded);
    const plan = await again.engine.plan();
    expect(hasChanges(plan)).toBe(false);
    // observe alone hands the same outputs to later layers
    expect(again.engine.outputs.get(seedInfraOutputs)).toEqual(out);
    expect(await inventory(admin, demo, loaded.desired.tag, seed)).toMatchObject(ONE_SEED);
  });

  it('repairs a security group rule deleted by hand', async () => {
    const [sg] = await demo.listSecurityGroups({ name: seed });
    const ssh = sg!.rules.find((r) => r.direction === 'ingress')!;
    await demo.deleteSecurityGroupRule(ssh.id);
    const { before } = await converge();
    expect(real(before)).toEqual([`update security-group/${seed}`]);
    expect(before.changes.find((c) => c.action === 'update')!.reason).toContain('missing: ingress IPv4 tcp 22');
  });

  it('re-creates a server deleted by hand and re-attaches the same data volume', async () => {
    const [server] = await demo.listServers({ name: seed });
    const [volBefore] = await demo.listVolumes({ name: `${seed}-data` });
    await demo.deleteServer(server!.id);
    for (let i = 0; i < 100 && (await demo.getServer(server!.id)); i++) await new Promise((r) => setTimeout(r, 300));
    const { before } = await converge();
    expect(real(before)).toEqual(
      [`create server/${seed}`, `create volume-attachment/${seed}-data`, `update floating-ip/${seed}`].sort(),
    );
    const [volAfter] = await demo.listVolumes({ name: `${seed}-data` });
    const [serverAfter] = await demo.listServers({ name: seed });
    expect(volAfter!.id).toBe(volBefore!.id);
    expect(volAfter!.attachments.map((a) => a.serverId)).toEqual([serverAfter!.id]);
  });

  it('re-associates a floating IP disassociated by hand', async () => {
    const fip = (await demo.listFloatingIps({})).find((f) => f.tags.includes(loaded.desired.tag))!;
    await demo.associateFloatingIp(fip.id, null);
    const { before } = await converge();
    expect(real(before)).toEqual([`update floating-ip/${seed}`]);
    expect((await demo.getFloatingIp(fip.id))!.portId).not.toBeNull();
  });

  it('replaces the server when the flavor changes in config, keeping the data volume', async () => {
    const [volBefore] = await demo.listVolumes({ name: `${seed}-data` });
    const [serverBefore] = await demo.listServers({ name: seed });
    loaded = labEnvironment(name, { flavor: { name: 'm1.xlarge' } });
    const { before } = await converge();
    expect(real(before)).toEqual(
      [`replace server/${seed}`, `replace volume-attachment/${seed}-data`, `update floating-ip/${seed}`].sort(),
    );
    const [serverAfter] = await demo.listServers({ name: seed });
    const [volAfter] = await demo.listVolumes({ name: `${seed}-data` });
    expect(serverAfter!.id).not.toBe(serverBefore!.id);
    expect(serverAfter!.flavor.name).toBe('m1.xlarge');
    expect(volAfter!.id).toBe(volBefore!.id);
    expect(volAfter!.attachments.map((a) => a.serverId)).toEqual([serverAfter!.id]);
    expect(await inventory(admin, demo, loaded.desired.tag, seed)).toMatchObject(ONE_SEED);
  });

  it('destroy removes everything, and a second destroy has nothing to do', async () => {
    const r = await seedEngine(loaded).engine.destroy();
    expect(r.plan.counts.delete).toBe(9);
    expect(await inventory(admin, demo, loaded.desired.tag, seed)).toEqual(NOTHING);
    const again = await seedEngine(loaded).engine.destroy();
    expect(again.applied).toEqual([]);
  });

  it('a missing image is reported with the closest names', async () => {
    const bad = labEnvironment(uniqueName('si'), { image: { name: 'fake-imag' } });
    await expect(seedEngine(bad).engine.plan()).rejects.toThrow(/image "fake-imag" not found; closest: "fake-image"/);
  });
});
