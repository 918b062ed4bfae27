/**
 * Private temp files for things that must not appear on a command line
 * (values, kubeconfigs): a 0700 directory, 0600 files, removed afterwards.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withPrivateDir<T>(
  parent: string | undefined,
  fn: (write: (name: string, text: string) => Promise<string>) => Promise<T>,
) {
  const dir = await mkdtemp(join(parent ?? tmpdir(), 'capi-mgmt-'));
  try {
    return await fn(async (name, text) => {
      const path = join(dir, name);
      await writeFile(path, text, { mode: 0o600 });
      return path;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
