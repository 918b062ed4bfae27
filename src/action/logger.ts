import * as core from '@actions/core';
import type { Logger } from '../engine/types.js';
import type { Redactor } from '../util/redact.js';

/** Engine logs as Actions log lines and groups; secrets blanked before printing. */
export class ActionLogger implements Logger {
  private redactor?: Redactor;
  private inGroup = false;

  setRedactor(r: Redactor): void {
    this.redactor = r;
    // Belt and braces: the runner masks these too, line by line.
    for (const v of r.values()) core.setSecret(v);
  }

  private readonly clean = (m: string): string => (this.redactor ? this.redactor.redact(m) : m);

  // Arrow properties: callers may pass `log.info` on as a plain callback.
  info = (message: string): void => core.info(this.clean(message));
  warn = (message: string): void => core.warning(this.clean(message));
  debug = (message: string): void => core.debug(this.clean(message));

  async group<T>(name: string, fn: () => Promise<T>): Promise<T> {
    // Actions groups do not nest; an inner phase becomes a heading line.
    if (this.inGroup) {
      core.info(`-- ${name}`);
      return fn();
    }
    this.inGroup = true;
    try {
      return await core.group(name, fn);
    } finally {
      this.inGroup = false;
    }
  }
}
