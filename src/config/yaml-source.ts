/**
 * Reads one YAML file into plain data while remembering where every key and
 * value is written, and resolves secret references in scalars.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Node, type YAMLError } from 'yaml';
import type { ConfigIssue, SourcePos } from './errors.js';
import { scalarAsWritten } from '../util/yaml-secrets.js';

export type PathSeg = string | number;

/** Position of a value and, for map entries, of its key. */
interface Located {
  value: SourcePos;
  key?: SourcePos;
}

/** Path -> position index. Keys are JSON-encoded paths. */
export type PositionIndex = Map<string, Located>;

export const pathKey = (p: readonly PathSeg[]): string => JSON.stringify(p);

export interface ParsedFile {
  file: string;
  data: Record<string, unknown>;
  positions: PositionIndex;
  /** Paths whose value came (in part) from a secret reference. */
  secretPaths: Set<string>;
  /** Values produced by secret references, to redact. */
  secretValues: Array<{ path: PathSeg[]; value: string }>;
  issues: ConfigIssue[];
  /** Paths whose secret reference could not be resolved. */
  unresolved: Set<string>;
  /** The file could not be read as a mapping (syntax error, wrong top level): nothing else is checked. */
  fatal: boolean;
}

const REF = /\$\{(env|file):([^}]*)\}/g;

export interface SecretSources {
  env: Record<string, string | undefined>;
  /** Paths whose value is a secret: read as the text written, whatever YAML type it looks like. */
  isSensitive?: (p: readonly PathSeg[]) => boolean;
}

export function readYamlFile(file: string, envDir: string, sources: SecretSources): ParsedFile {
  const result: ParsedFile = {
    file,
    data: {},
    positions: new Map(),
    secretPaths: new Set(),
    secretValues: [],
    issues: [],
    unresolved: new Set(),
    fatal: false,
  };
  const text = fs.readFileSync(file, 'utf8');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number): SourcePos => {
    const { line, col } = lc.linePos(offset);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    result.fatal = true;
    // One error per line: the parser's follow-up errors on the same line only repeat the first.
    const lines = new Set<number>();
    for (const e of [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0])) {
      const { offset, message } = syntaxMessage(e, text, doc);
      const pos = lc.linePos(offset);
      if (lines.has(pos.line)) continue;
      lines.add(pos.line);
      result.issues.push({ file, line: pos.line, col: pos.col, message: `YAML syntax error: ${message}` });
    }
    return result;
  }
  if (doc.contents === null) return result; // an empty file is allowed
  if (!isMap(doc.contents)) {
    result.fatal = true;
    const r = doc.contents.range ?? [0];
    const found = isSeq(doc.contents)
      ? 'a list'
      : isScalar(doc.contents)
        ? JSON.stringify(doc.contents.source ?? doc.contents.value)
        : 'something else';
    result.issues.push({
      ...at(r[0]),
      message: `(top level): expected a mapping of settings (key: value), found ${found}`,
    });
    return result;
  }

  const build = (node: Node | null, p: PathSeg[], keyPos?: SourcePos): unknown => {
    if (node === null) return null;
    // An empty value (`key:` and nothing else) is shown at its key.
    const empty = isScalar(node) && node.value === null && node.range != null && node.range[0] === node.range[1];
    const pos = empty && keyPos ? keyPos : at(node.range?.[0] ?? 0);
    result.positions.set(pathKey(p), keyPos ? { value: pos, key: keyPos } : { value: pos });
    if (isAlias(node)) return build(node.resolve(doc) ?? null, p, keyPos);
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
        const kPos = at((pair.key as Node | null)?.range?.[0] ?? 0);
        const v = pair.value as Node | null;
        out[k] = v === null ? null : build(v, [...p, k], kPos);
        if (v === null) result.positions.set(pathKey([...p, k]), { value: kPos, key: kPos });
      }
      return out;
    }
    if (isSeq(node)) return node.items.map((item, i) => build(item as Node, [...p, i]));
    if (isScalar(node)) {
      // `password: 012345678` is the string written, not the number 12345678.
      const v = sources.isSensitive?.(p) ? scalarAsWritten(node) : node.value;
      if (typeof v === 'string' && v.includes('${')) return resolveRefs(v, p, pos);
      return v;
    }
    return null;
  };

  const resolveRefs = (raw: string, p: PathSeg[], pos: SourcePos): string => {
    let failed = false;
    const value = raw.replace(REF, (whole, kind: string, arg: string) => {
      const resolved = kind === 'env' ? sources.env[arg] : readRefFile(envDir, arg);
      if (resolved === undefined || resolved === '') {
        failed = true;
        const what =
          kind === 'env'
            ? `environment variable ${arg} is not set`
            : `no readable file "${arg}" in the environment directory`;
        result.issues.push({ ...pos, message: `${dotted(p)}: secret reference ${whole} cannot be resolved: ${what}` });
        return '';
      }
      result.secretValues.push({ path: p, value: resolved });
      return kind === 'file' ? resolved.replace(/\n$/, '') : resolved;
    });
    result.secretPaths.add(pathKey(p));
    if (failed) result.unresolved.add(pathKey(p));
    return value;
  };

  result.data = build(doc.contents, []) as Record<string, unknown>;
  return result;
}

function readRefFile(envDir: string, rel: string): string | undefined {
  try {
    return fs.readFileSync(path.resolve(envDir, rel), 'utf8');
  } catch {
    return undefined;
  }
}

/** yaml's messages end with " at line L, column C"; we print the position ourselves. */
function stripPos(msg: string): string {
  return msg.replace(/ at line \d+, column \d+:?$/, '').replace(/:$/, '');
}

/** A syntax error in plain words, at the place a reader should look. */
function syntaxMessage(
  e: YAMLError,
  text: string,
  doc: ReturnType<typeof parseDocument>,
): { offset: number; message: string } {
  const first = stripPos(e.message.split('\n')[0] ?? e.message);
  const offset = e.pos[0];
  switch (e.code) {
    case 'DUPLICATE_KEY': {
      const key = /^[^\s:#,\]}]+|^"[^"]*"|^'[^']*'/.exec(text.slice(offset))?.[0] ?? '';
      return {
        offset,
        message: `duplicate key ${key.startsWith('"') || key.startsWith("'") ? key : JSON.stringify(key)}`,
      };
    }
    case 'TAB_AS_INDENT':
      return { offset, message: 'tabs are not allowed as indentation; indent with spaces' };
    case 'MISSING_CHAR': {
      const quote = /^Missing closing (["'])quote/.exec(first)?.[1];
      if (!quote) break;
      // The parser reports the end of the file; the reader needs the opening quote.
      let start = offset;
      visit(doc, {
        Scalar(_k, node) {
          const want = quote === '"' ? 'QUOTE_DOUBLE' : 'QUOTE_SINGLE';
          if (node.type === want && node.range && node.range[0] < start && node.range[1] >= offset)
            start = node.range[0];
        },
      });
      return { offset: start, message: `quoted value is not closed (missing closing ${quote})` };
    }
    case 'BAD_INDENT':
    case 'MULTILINE_IMPLICIT_KEY':
    case 'BLOCK_AS_IMPLICIT_KEY':
      return {
        offset,
        message: `${first.charAt(0).toLowerCase()}${first.slice(1)} (check the indentation here and on the next lines)`,
      };
  }
  return { offset, message: `${first.charAt(0).toLowerCase()}${first.slice(1)}` };
}

export function dotted(p: readonly PathSeg[]): string {
  if (p.length === 0) return '(top level)';
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
