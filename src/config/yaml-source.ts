/**
 * Reads one YAML file into plain data while remembering where every key and
 * value is written, and resolves secret references in scalars.
 */
import fs from 'node:fs';
import path from 'node:path';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { ConfigIssue, SourcePos } from './errors.js';

export type PathSeg = string | number;

/** Position of a value and, for map entries, of its key. */
export interface Located {
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
  secretValues: string[];
  issues: ConfigIssue[];
  /** Paths whose secret reference could not be resolved. */
  unresolved: Set<string>;
}

const REF = /\$\{(env|file):([^}]*)\}/g;

export interface SecretSources {
  env: Record<string, string | undefined>;
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
  };
  const text = fs.readFileSync(file, 'utf8');
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const at = (offset: number): SourcePos => {
    const { line, col } = lc.linePos(offset);
    return { file, line, col };
  };
  if (doc.errors.length > 0) {
    for (const e of doc.errors) {
      const first = e.message.split('\n')[0] ?? e.message;
      const pos = e.linePos?.[0] ?? lc.linePos(e.pos[0]);
      result.issues.push({ file, line: pos.line, col: pos.col, message: `YAML syntax error: ${stripPos(first)}` });
    }
    return result;
  }
  if (doc.contents === null) return result; // an empty file is allowed
  if (!isMap(doc.contents)) {
    const r = doc.contents.range ?? [0];
    result.issues.push({ ...at(r[0]), message: 'expected a mapping of settings at the top of the file' });
    return result;
  }

  const build = (node: Node | null, p: PathSeg[], keyPos?: SourcePos): unknown => {
    if (node === null) return null;
    const pos = at(node.range?.[0] ?? 0);
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
      const v = node.value;
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
            : `file ${path.relative(process.cwd(), path.resolve(envDir, arg)) || arg} does not exist`;
        result.issues.push({ ...pos, message: `${dotted(p)}: secret reference ${whole} cannot be resolved: ${what}` });
        return '';
      }
      result.secretValues.push(resolved);
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

export function dotted(p: readonly PathSeg[]): string {
  if (p.length === 0) return '(top level)';
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}
