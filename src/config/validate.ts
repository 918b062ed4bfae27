/**
 * Turns schema issues into positioned, readable messages: the key path, what
 * was expected and what was found, at the place the value is written.
 */
import { closest } from 'fastest-levenshtein';
import type { z } from 'zod';
import type { ConfigIssue, SourcePos } from './errors.js';
import { dotted, pathKey, type PathSeg, type PositionIndex } from './yaml-source.js';

type Issue = z.core.$ZodIssue;
type AnySchema = z.core.$ZodType;

export interface IssueContext {
  positions: PositionIndex;
  /** Paths whose values must not be echoed back. */
  isSecret: (p: readonly PathSeg[]) => boolean;
  /** The root schema, to look up the keys allowed at a path. */
  schema: AnySchema;
  fallback: SourcePos;
}

export function toConfigIssues(issues: readonly Issue[], ctx: IssueContext): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of issues) out.push(...convert(issue, [], ctx));
  return out;
}

function convert(issue: Issue, prefix: PathSeg[], ctx: IssueContext): ConfigIssue[] {
  const p = [...prefix, ...(issue.path as PathSeg[])];
  const found = (): string => describe(issue.input, ctx.isSecret(p));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = keysAt(ctx.schema, p);
      return issue.keys.map((k) => {
        const kp = [...p, k];
        const hint = allowed.length > 0 ? `; did you mean "${closest(k, allowed)}"?` : '';
        return { ...keyPos(kp, ctx), message: `${dotted(kp)}: unknown key${hint}` };
      });
    }
    case 'invalid_union': {
      const branch = bestBranch(issue, p);
      if (branch) return branch.flatMap((i) => convert(i, p, ctx));
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: ${unionExpectation(issue, ctx, p)}, found ${found()}` }];
    }
    case 'invalid_type': {
      if (issue.input === undefined) {
        return [{ ...valuePos(p, ctx), message: `${dotted(p)}: required key is missing (expected ${issue.expected})` }];
      }
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: expected ${issue.expected}, found ${found()}` }];
    }
    case 'invalid_value':
      return [
        {
          ...valuePos(p, ctx),
          message: `${dotted(p)}: expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, found ${found()}`,
        },
      ];
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? `at least ${issue.minimum}` : `at most ${issue.maximum}`;
      const unit = issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : '';
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: expected ${bound}${unit}, found ${found()}` }];
    }
    default: {
      const msg = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}`;
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: ${msg}, found ${found()}` }];
    }
  }
}

/** Of a union's branches, the one whose errors show the input was meant for it. */
function bestBranch(issue: Issue & { code: 'invalid_union' }, p: PathSeg[]): Issue[] | undefined {
  const candidates = issue.errors.filter(
    (errs) =>
      errs.length > 0 &&
      !errs.some(
        (e) =>
          e.path.length === 0 &&
          (e.code === 'invalid_type' || (e.code === 'invalid_value' && issue.discriminator === undefined)),
      ),
  );
  if (issue.discriminator !== undefined) {
    // A discriminated union failed on its tag: report against the tag.
    const tagIssue = issue.errors.flat().find((e) => e.path[0] === issue.discriminator);
    if (tagIssue) return [tagIssue];
  }
  if (candidates.length === 0) return undefined;
  void p;
  return candidates.reduce((a, b) => (b.length < a.length ? b : a));
}

function unionExpectation(issue: Issue & { code: 'invalid_union' }, ctx: IssueContext, p: PathSeg[]): string {
  const desc = describeSchemaAt(ctx.schema, p);
  if (desc) return `expected ${desc}`;
  const kinds = new Set<string>();
  for (const errs of issue.errors) {
    for (const e of errs) {
      if (e.path.length !== 0) continue;
      if (e.code === 'invalid_type') kinds.add(e.expected);
      if (e.code === 'invalid_value') e.values.forEach((v) => kinds.add(JSON.stringify(v)));
    }
  }
  return `expected ${[...kinds].join(' or ') || 'a different value'}`;
}

function describe(v: unknown, secret: boolean): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (secret) return `a ${typeof v} (value hidden)`;
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  return `${typeof v} ${String(v)}`;
}

function valuePos(p: readonly PathSeg[], ctx: IssueContext): SourcePos {
  for (let n = p.length; n >= 0; n--) {
    const hit = ctx.positions.get(pathKey(p.slice(0, n)));
    if (hit) return hit.value;
  }
  return ctx.fallback;
}

function keyPos(p: readonly PathSeg[], ctx: IssueContext): SourcePos {
  const hit = ctx.positions.get(pathKey(p));
  return hit?.key ?? hit?.value ?? valuePos(p, ctx);
}

// ---------- schema navigation ---------------------------------------------

interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  valueType?: AnySchema;
  options?: AnySchema[];
  in?: AnySchema;
}

const defOf = (s: AnySchema): Def => (s._zod as unknown as { def: Def }).def;

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (;;) {
    const d = defOf(cur);
    if (d.innerType && ['optional', 'default', 'prefault', 'nullable', 'readonly', 'nonoptional'].includes(d.type)) {
      cur = d.innerType;
    } else if (d.type === 'pipe' && d.in) cur = d.in;
    else return cur;
  }
}

/** Every schema that may describe the value at `p` (unions fan out). */
function schemasAt(root: AnySchema, p: readonly PathSeg[]): AnySchema[] {
  let current = [unwrap(root)];
  for (const seg of p) {
    const next: AnySchema[] = [];
    const expand = (s: AnySchema): void => {
      const d = defOf(s);
      if (d.type === 'union' && d.options) d.options.forEach((o) => expand(unwrap(o)));
      else if (d.type === 'object' && d.shape && typeof seg === 'string' && d.shape[seg])
        next.push(unwrap(d.shape[seg]));
      else if (d.type === 'array' && d.element && typeof seg === 'number') next.push(unwrap(d.element));
      else if (d.type === 'record' && d.valueType) next.push(unwrap(d.valueType));
    };
    current.forEach(expand);
    current = next;
  }
  const flat: AnySchema[] = [];
  const flatten = (s: AnySchema): void => {
    const d = defOf(s);
    if (d.type === 'union' && d.options) d.options.forEach((o) => flatten(unwrap(o)));
    else flat.push(s);
  };
  current.forEach(flatten);
  return flat;
}

export function keysAt(root: AnySchema, p: readonly PathSeg[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(root, p)) {
    const d = defOf(s);
    if (d.type === 'object' && d.shape) Object.keys(d.shape).forEach((k) => keys.add(k));
  }
  return [...keys];
}

function describeSchemaAt(root: AnySchema, p: readonly PathSeg[]): string | undefined {
  const metaOf = (s: AnySchema): string | undefined => {
    const m = (s as unknown as { meta?: () => { description?: string } | undefined }).meta?.();
    return m?.description;
  };
  // The union's own description lives on the (wrapped) schema of the parent key.
  let cur: AnySchema | undefined = root;
  for (const seg of p) {
    const d: Def = defOf(unwrap(cur));
    if (d.type === 'object' && d.shape && typeof seg === 'string') cur = d.shape[seg];
    else if (d.type === 'array' && d.element) cur = d.element;
    else if (d.type === 'record' && d.valueType) cur = d.valueType;
    else return undefined;
    if (cur === undefined) return undefined;
  }
  for (let s: AnySchema | undefined = cur; s;) {
    const desc = metaOf(s);
    if (desc) return desc.replace(/\.$/, '');
    const d: Def = defOf(s);
    s = d.innerType;
  }
  return undefined;
}
