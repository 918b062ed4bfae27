import path from 'node:path';

/** Where a value is written: the file, 1-based line and column. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

export interface ConfigIssue extends SourcePos {
  message: string;
}

/** Every problem found in an environment, thrown as one error so users see them all at once. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(issues: ConfigIssue[]) {
    const sorted = [...issues].sort(compareIssues);
    super(sorted.map((i) => formatIssue(i)).join('\n'));
    this.name = 'ConfigError';
    this.issues = sorted;
  }

  /** The issues as `FILE:LINE:COL: message` lines, FILE relative to `base`. */
  format(base = process.cwd()): string {
    return this.issues.map((i) => formatIssue(i, base)).join('\n');
  }
}

function compareIssues(a: ConfigIssue, b: ConfigIssue): number {
  return a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col || a.message.localeCompare(b.message);
}

export function formatIssue(i: ConfigIssue, base?: string): string {
  let file = i.file;
  if (base !== undefined) {
    const rel = path.relative(base, i.file);
    if (!rel.startsWith('..') && !path.isAbsolute(rel)) file = rel;
  }
  return `${file}:${i.line}:${i.col}: ${i.message}`;
}
