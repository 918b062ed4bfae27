/**
 * Host keys the way OpenSSH shows them: `ssh-ed25519 AAAA...` for the key
 * and `SHA256:<base64 without padding>` for its fingerprint.
 */
import { createHash } from 'node:crypto';

/** The key type is the first length-prefixed string inside the key blob. */
export function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) throw new Error('host key blob is too short');
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > blob.length) throw new Error('host key blob has no key type');
  return blob.subarray(4, 4 + len).toString('ascii');
}

/** `ssh-ed25519 AAAA...` (no comment) for a raw key blob. */
export function formatHostKey(blob: Buffer): string {
  return `${keyTypeOf(blob)} ${blob.toString('base64')}`;
}

/** Parse `type base64 [comment]` (an OpenSSH public key line) into its blob; the type must match the blob. */
export function parseHostKey(text: string): Buffer {
  const parts = text.trim().split(/\s+/);
  const [type, b64] = parts;
  if (type === undefined || b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) {
    throw new Error(`expected a host key such as "ssh-ed25519 AAAA...", got "${text.trim().slice(0, 40)}"`);
  }
  const blob = Buffer.from(b64, 'base64');
  let inner: string;
  try {
    inner = keyTypeOf(blob);
  } catch {
    throw new Error(`host key "${type} ${b64.slice(0, 12)}..." is not a valid key`);
  }
  if (inner !== type) throw new Error(`host key says "${type}" but its data is a "${inner}" key`);
  return blob;
}

/** OpenSSH's fingerprint: `SHA256:` + unpadded base64 of sha256(blob). */
export function fingerprint(key: Buffer | string): string {
  const blob = typeof key === 'string' ? parseHostKey(key) : key;
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export class HostKeyMismatchError extends Error {
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `host key of ${host} changed: expected ${expected}, the server offered ${actual}. ` +
        'Refusing to connect: if the seed was rebuilt on purpose, update seed.ssh.hostKey; otherwise someone may be intercepting the connection.',
    );
    this.name = 'HostKeyMismatchError';
  }
}

/**
 * Checks the key a server offers: against the pinned key when there is one,
 * otherwise trusting the first key seen. Remembers what it saw so the caller
 * can record it (and, after a refusal, explain why).
 */
export class HostKeyCheck {
  private readonly pinned: Buffer | undefined;
  /** The key the server offered, in OpenSSH form. */
  seen: string | undefined;
  mismatch: HostKeyMismatchError | undefined;

  constructor(
    readonly host: string,
    pinned: string | undefined,
  ) {
    this.pinned = pinned === undefined || pinned.trim() === '' ? undefined : parseHostKey(pinned);
  }

  get trustOnFirstUse(): boolean {
    return this.pinned === undefined;
  }

  verify(blob: Buffer): boolean {
    this.seen = formatHostKey(blob);
    if (this.pinned === undefined || this.pinned.equals(blob)) return true;
    this.mismatch = new HostKeyMismatchError(this.host, fingerprint(this.pinned), fingerprint(blob));
    return false;
  }
}
