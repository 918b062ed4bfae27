/**
 * seed-k3s's outputs for tests that stand in for the seed: the kubeconfig as
 * given, and `reach` as a plain loopback TCP relay to host:port (what the SSH
 * forward through the seed does, for addresses the test machine reaches itself).
 */
import net from 'node:net';
import type { SeedK3sOutputs } from '../../src/layers/seed-k3s/outputs.js';

const relays = new Map<string, Promise<number>>();

function relay(host: string, port: number): Promise<number> {
  const key = `${host}:${port}`;
  let got = relays.get(key);
  if (!got) {
    got = new Promise<number>((resolve, reject) => {
      const server = net.createServer((client) => {
        const upstream = net.connect({ host, port });
        client.pipe(upstream).pipe(client);
        const end = (): void => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', end);
        upstream.on('error', end);
      });
      server.unref();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
    relays.set(key, got);
  }
  return got;
}

export const seedOutputs = (kubeconfig: string): SeedK3sOutputs => ({ kubeconfig, reach: relay });
