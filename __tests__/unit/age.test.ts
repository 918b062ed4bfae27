import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { armor, generateIdentity, identityToRecipient } from 'age-encryption';
import { describe, expect, it } from 'vitest';
import { decryptWith, encryptTo, parseIdentities } from '../../src/artifact/age.js';
import { publishKubeconfig } from '../../src/artifact/kubeconfig.js';
import { main } from '../../src/cli/main.js';

const KUBECONFIG = 'apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user: {token: super-secret-token-123456}\n';

function sink(): PassThrough & { text: () => string } {
  const s = new PassThrough() as PassThrough & { text: () => string };
  let buf = '';
  s.on('data', (d: Buffer) => (buf += d.toString()));
  s.text = () => buf;
  return s;
}

describe('age', () => {
  it('encrypts to every recipient and decrypts binary or armored data', async () => {
    const [id1, id2] = [await generateIdentity(), await generateIdentity()];
    const data = await encryptTo([await identityToRecipient(id1), await identityToRecipient(id2)], KUBECONFIG);
    expect(Buffer.from(data).toString('latin1')).not.toContain('super-secret-token');
    expect(await decryptWith([id2], data)).toBe(KUBECONFIG);
    const armored = new TextEncoder().encode(armor.encode(data));
    expect(await decryptWith([id1], armored)).toBe(KUBECONFIG);
    await expect(decryptWith([await generateIdentity()], data)).rejects.toThrow();
    await expect(encryptTo([], KUBECONFIG)).rejects.toThrow('no age recipients');
  });

  it('reads identity files with comments', () => {
    expect(parseIdentities('# created: 2026\n# public key: age1...\nAGE-SECRET-KEY-1ABC\n\n')).toEqual([
      'AGE-SECRET-KEY-1ABC',
    ]);
    expect(() => parseIdentities('ssh-ed25519 AAAA')).toThrow('expected an age identity file');
    expect(() => parseIdentities('# nothing\n')).toThrow();
  });
});

describe('kubeconfig artifact', () => {
  it('writes only ciphertext, 0600, and uploads it', async () => {
    const id = await generateIdentity();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-art-'));
    const temps: string[] = [];
    let uploaded: { file: string; days: number; bytes: Buffer } | undefined;
    const p = await publishKubeconfig({
      environment: 'prod',
      kubeconfig: KUBECONFIG,
      recipients: [await identityToRecipient(id)],
      retentionDays: 3,
      tempDir: tmp,
      onTempPath: (x) => temps.push(x),
      uploader: {
        uploadFile: async (file, days) => {
          uploaded = { file, days, bytes: fs.readFileSync(file) };
          return 77;
        },
      },
    });
    expect(p).toMatchObject({ id: 77, name: 'capi-mgmt-prod-kubeconfig.age' });
    expect(path.basename(uploaded!.file)).toBe('capi-mgmt-prod-kubeconfig.age');
    expect(uploaded!.days).toBe(3);
    expect(fs.statSync(uploaded!.file).mode & 0o777).toBe(0o600);
    expect(temps).toEqual([path.dirname(uploaded!.file)]);
    // Nothing under the temp dir holds the plain kubeconfig.
    for (const f of fs.readdirSync(tmp, { recursive: true }) as string[]) {
      const full = path.join(tmp, f);
      if (fs.statSync(full).isFile()) expect(fs.readFileSync(full, 'latin1')).not.toContain('super-secret-token');
    }
    expect(await decryptWith([id], uploaded!.bytes)).toBe(KUBECONFIG);
    fs.rmSync(tmp, { recursive: true, force: true });
  });
});

describe('capi-mgmt decrypt-kubeconfig', () => {
  it('decrypts a downloaded artifact to a 0600 file or stdout', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'capi-dec-'));
    const id = await generateIdentity();
    fs.writeFileSync(
      path.join(dir, 'key.txt'),
      `# created: now\n# public key: ${await identityToRecipient(id)}\n${id}\n`,
    );
    fs.writeFileSync(path.join(dir, 'k.age'), await encryptTo([await identityToRecipient(id)], KUBECONFIG));
    const out = sink();
    const err = sink();
    const argv = ['decrypt-kubeconfig', '--identity', path.join(dir, 'key.txt'), '--in', path.join(dir, 'k.age')];
    expect(await main({ argv: [...argv, '--out', path.join(dir, 'kubeconfig')], stdout: out, stderr: err })).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'kubeconfig'), 'utf8')).toBe(KUBECONFIG);
    expect(fs.statSync(path.join(dir, 'kubeconfig')).mode & 0o777).toBe(0o600);
    expect(err.text()).toContain('(mode 0600)');
    expect(await main({ argv, stdout: out, stderr: err })).toBe(0);
    expect(out.text()).toBe(KUBECONFIG);

    const other = await generateIdentity();
    fs.writeFileSync(path.join(dir, 'other.txt'), `${other}\n`);
    const err2 = sink();
    expect(
      await main({
        argv: ['decrypt-kubeconfig', '--identity', path.join(dir, 'other.txt'), '--in', path.join(dir, 'k.age')],
        stdout: sink(),
        stderr: err2,
      }),
    ).toBe(1);
    expect(err2.text()).toContain('cannot decrypt');
    expect(await main({ argv: ['decrypt-kubeconfig', '--in', 'x'], stdout: sink(), stderr: sink() })).toBe(64);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
