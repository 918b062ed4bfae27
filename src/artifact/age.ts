/**
 * age encryption for the kubeconfig handoff: X25519 recipients (`age1...`)
 * in config, so the deploy job needs no private key; only whoever holds an
 * identity (`AGE-SECRET-KEY-1...`) can read the artifact.
 */

/** Loaded at first use: only runs that hand over or read a kubeconfig need it. */
const age = () => import('age-encryption');

export async function encryptTo(recipients: readonly string[], plaintext: string): Promise<Uint8Array> {
  if (recipients.length === 0) throw new Error('no age recipients given');
  const { Encrypter } = await age();
  const e = new Encrypter();
  for (const r of recipients) e.addRecipient(r);
  return e.encrypt(plaintext);
}

/** Identity lines from an age identity file (comments and blank lines skipped). */
export function parseIdentities(text: string): string[] {
  const ids = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const bad = ids.find((l) => !l.startsWith('AGE-SECRET-KEY-'));
  if (bad !== undefined || ids.length === 0) {
    throw new Error('expected an age identity file: lines of AGE-SECRET-KEY-1..., "#" comments allowed');
  }
  return ids;
}

/** Decrypts binary or ASCII-armored age data. */
export async function decryptWith(identities: readonly string[], data: Uint8Array): Promise<string> {
  const { armor, Decrypter } = await age();
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  const head = Buffer.from(data.subarray(0, 40)).toString('latin1');
  const bytes = head.startsWith('-----BEGIN AGE ENCRYPTED FILE-----')
    ? armor.decode(Buffer.from(data).toString('latin1'))
    : data;
  return d.decrypt(bytes, 'text');
}
