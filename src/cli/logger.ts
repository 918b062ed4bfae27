import type { Logger } from '../engine/types.js';
import type { Redactor } from '../util/redact.js';

/** Logs to stderr (stdout stays clean for --json), secrets blanked out. */
export class TerminalLogger implements Logger {
  private redactor?: Redactor;
  private depth = 0;

  constructor(
    private readonly out: NodeJS.WritableStream,
    private readonly opts: { debug?: boolean } = {},
  ) {}

  setRedactor(r: Redactor): void {
    this.redactor = r;
  }

  private readonly line = (prefix: string, message: string): void => {
    const text = this.redactor ? this.redactor.redact(message) : message;
    const pad = '  '.repeat(this.depth);
    for (const l of text.split('\n')) this.out.write(`${pad}${prefix}${l}\n`);
  };

  // Arrow properties: callers may pass `log.info` on as a plain callback.
  info = (message: string): void => this.line('', message);
  warn = (message: string): void => this.line('warning: ', message);
  debug = (message: string): void => {
    if (this.opts.debug) this.line('debug: ', message);
  };

  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.line('== ', name);
    this.depth++;
    const start = Date.now();
    try {
      return await fn();
    } finally {
      this.depth--;
      this.debug(`${name} took ${((Date.now() - start) / 1000).toFixed(1)} s`);
    }
  }
}
