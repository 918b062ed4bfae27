import { environmentSchema } from '../../src/model/schema.js';
import { toDesired, type Desired } from '../../src/model/desired.js';

const CLOUDS = 'clouds:\n  openstack:\n    auth: {auth_url: "https://id.example/v3"}\n';

/** A valid Desired from a few overrides, for tests that need no files. */
export function testDesired(name = 'test', overrides: Record<string, unknown> = {}): Desired {
  const config = environmentSchema.parse({
    openstack: { cloudsYaml: CLOUDS },
    seed: { sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ7dJ5zW0V5nYl9sHfGSVtFHtp8u5pQW3nxbS0Z1Q3Rk test' },
    ...overrides,
  });
  return toDesired(config, { name, dir: '/nonexistent' });
}
