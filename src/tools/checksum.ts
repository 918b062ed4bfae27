/** Reading sha256 checksum files as release pages publish them. */

/**
 * Accepts `sha256sum` output (`<hex>  name` or `<hex> *name`, many lines)
 * and single-hash files (`<hex>` alone, as `.sha256` files hold).
 */
export function parseChecksumFile(text: string, name: string, source = 'checksum file'): string {
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  for (const line of lines) {
    const m = /^([0-9a-fA-F]{64})(?:\s+\*?(.+))?$/.exec(line);
    if (!m) continue;
    const listed = m[2]?.trim();
    if (listed === undefined && lines.length === 1) return m[1]!.toLowerCase();
    if (listed === name || listed?.endsWith(`/${name}`)) return m[1]!.toLowerCase();
  }
  throw new Error(`${source} lists no sha256 for ${name}`);
}

export class ChecksumMismatchError extends Error {
  constructor(url: string, expected: string, actual: string) {
    super(`checksum mismatch for ${url}: expected sha256 ${expected}, got ${actual}; nothing was cached`);
    this.name = 'ChecksumMismatchError';
  }
}
