/** Turns a byte stream into whole lines for a callback (the last partial line on flush). */
export class LineSplitter {
  private rest = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    const text = this.rest + chunk.toString();
    const lines = text.split(/\r?\n/);
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.onLine(l);
  }

  flush(): void {
    if (this.rest !== '') this.onLine(this.rest);
    this.rest = '';
  }
}

/** Quote a string for a POSIX shell: 'it'\''s'. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A remote path for a shell command: `~/x` becomes `"$HOME"/'x'` so the
 * remote shell expands the home directory; anything else is quoted as is.
 */
export function remotePath(p: string): string {
  if (p === '~') return '"$HOME"';
  if (p.startsWith('~/')) return `"$HOME"/${shq(p.slice(2))}`;
  return shq(p);
}
