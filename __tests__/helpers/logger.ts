import type { Logger } from '../../src/engine/types.js';

/** Collects log lines for assertions. */
export class MemoryLogger implements Logger {
  readonly lines: string[] = [];
  info(m: string): void {
    this.lines.push(m);
  }
  warn(m: string): void {
    this.lines.push(`warning: ${m}`);
  }
  debug(): void {}
  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    this.lines.push(`== ${name}`);
    return fn();
  }
}
