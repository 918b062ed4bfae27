/**
 * `capi-mgmt decrypt-kubeconfig --identity FILE --in ARTIFACT [--out FILE]`:
 * opens the age-encrypted kubeconfig artifact a deploy run uploaded.
 * Without --out the kubeconfig goes to stdout; with it, to a 0600 file.
 */
import fs from 'node:fs';
import { Command as Cli, CommanderError } from 'commander';
import { decryptWith, parseIdentities } from '../artifact/age.js';

export interface DecryptIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function decryptKubeconfig(argv: string[], io: DecryptIo): Promise<number> {
  const program = new Cli('capi-mgmt decrypt-kubeconfig')
    .description('Decrypt a downloaded kubeconfig artifact (age) with your identity file.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .requiredOption('--identity <file>', 'age identity file (AGE-SECRET-KEY-1...)')
    .requiredOption('--in <file>', 'the downloaded artifact (capi-mgmt-<env>-kubeconfig.age)')
    .option('--out <file>', 'write the kubeconfig here (mode 0600) instead of stdout');
  let o: { identity: string; in: string; out?: string };
  try {
    program.parse(argv, { from: 'user' });
    o = program.opts();
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 64;
    throw e;
  }
  const fail = (m: string): number => {
    io.stderr.write(`capi-mgmt decrypt-kubeconfig: ${m}\n`);
    return 1;
  };
  let identities: string[];
  let data: Buffer;
  try {
    identities = parseIdentities(fs.readFileSync(o.identity, 'utf8'));
  } catch (e) {
    return fail(
      `--identity ${o.identity}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`,
    );
  }
  try {
    data = fs.readFileSync(o.in);
  } catch {
    return fail(`--in ${o.in}: cannot read the file`);
  }
  let kubeconfig: string;
  try {
    kubeconfig = await decryptWith(identities, data);
  } catch (e) {
    return fail(`cannot decrypt ${o.in} with this identity (${(e as Error).message})`);
  }
  if (o.out) {
    // Create 0600 first, so the secret is never readable by others, even briefly.
    fs.writeFileSync(o.out, '', { mode: 0o600 });
    fs.chmodSync(o.out, 0o600);
    fs.writeFileSync(o.out, kubeconfig);
    io.stderr.write(`wrote ${o.out} (mode 0600)\n`);
  } else {
    io.stdout.write(kubeconfig);
  }
  return 0;
}
