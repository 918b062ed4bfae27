/**
 * Turns schema issues into positioned, readable messages: the key path, what
 * was expected and what was found, at the place the value is written.
 */
import { distance } from 'fastest-levenshtein';
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
  // A mapping with an unknown key also fails its cross-key checks ("exactly one of ..."),
  // usually because of that key (a misspelt "name"): the unknown key says it better.
  return withoutShadowed(issues).flatMap((issue) => convert(issue, [], ctx));
}

function withoutShadowed(issues: readonly Issue[]): Issue[] {
  const unknownAt = new Set(
    issues.filter((i) => i.code === 'unrecognized_keys').map((i) => pathKey(i.path as PathSeg[])),
  );
  return issues.filter((i) => !(i.code === 'custom' && unknownAt.has(pathKey(i.path as PathSeg[]))));
}

/** zod's type names in the words of a YAML file. */
const KINDS: Record<string, string> = {
  object: 'a mapping',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  record: 'a mapping',
};
const kind = (t: string): string => KINDS[t] ?? t;

function convert(issue: Issue, prefix: PathSeg[], ctx: IssueContext): ConfigIssue[] {
  const p = [...prefix, ...(issue.path as PathSeg[])];
  const found = (): string => describe(issue.input, ctx.isSecret(p));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const allowed = keysAt(ctx.schema, p);
      return issue.keys.map((k) => {
        const kp = [...p, k];
        return { ...keyPos(kp, ctx), message: `${dotted(kp)}: unknown key${suggest(k, allowed)}` };
      });
    }
    case 'invalid_union': {
      if (issue.discriminator !== undefined && issue.errors.length === 0) {
        // A discriminated union found no branch for its tag; `p` already ends with the tag.
        const input: unknown = issue.input;
        const tag = isMap(input) ? input[issue.discriminator] : undefined;
        const options = (issue as { options?: unknown[] }).options ?? [];
        const expected = `one of ${options.map((o) => JSON.stringify(o)).join(', ')}`;
        if (!isMap(input)) {
          return [
            {
              ...valuePos(p.slice(0, -1), ctx),
              message: `${dotted(p.slice(0, -1))}: expected a mapping, found ${describe(input, false)}`,
            },
          ];
        }
        if (tag === undefined)
          return [{ ...missingPos(p, ctx), message: `${dotted(p)}: required key is missing (expected ${expected})` }];
        return [
          {
            ...valuePos(p, ctx),
            message: `${dotted(p)}: expected ${expected}, found ${describe(tag, ctx.isSecret(p))}`,
          },
        ];
      }
      const branch = bestBranch(issue);
      if (branch) return withoutShadowed(branch).flatMap((i) => convert(i, p, ctx));
      return [
        { ...valuePos(p, ctx), message: `${dotted(p)}: expected ${unionExpectation(issue, ctx, p)}, found ${found()}` },
      ];
    }
    case 'invalid_type': {
      if (issue.input === undefined) {
        return [
          {
            ...missingPos(p, ctx),
            message: `${dotted(p)}: required key is missing (expected ${kind(issue.expected)})`,
          },
        ];
      }
      const quote =
        issue.expected === 'string' &&
        (typeof issue.input === 'number' || typeof issue.input === 'boolean') &&
        !ctx.isSecret(p)
          ? ` (put it in quotes to make it a string)`
          : '';
      return [
        { ...valuePos(p, ctx), message: `${dotted(p)}: expected ${kind(issue.expected)}, found ${found()}${quote}` },
      ];
    }
    case 'invalid_value':
      return [
        {
          ...valuePos(p, ctx),
          message: `${dotted(p)}: expected ${oneOf(issue.values.map((v) => JSON.stringify(v)))}, found ${found()}`,
        },
      ];
    case 'too_small':
    case 'too_big': {
      const inclusive = issue.inclusive !== false;
      const bound =
        issue.code === 'too_small'
          ? `${inclusive ? 'at least' : 'more than'} ${issue.minimum}`
          : `${inclusive ? 'at most' : 'less than'} ${issue.maximum}`;
      const unit = issue.origin === 'array' ? ' items' : issue.origin === 'string' ? ' characters' : '';
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: expected ${bound}${unit}, found ${found()}` }];
    }
    default: {
      const msg = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message}`;
      // A message that already says what it found (e.g. "found both ...") is complete.
      const tail = /, found /.test(msg) ? '' : `, found ${found()}`;
      return [{ ...valuePos(p, ctx), message: `${dotted(p)}: ${msg}${tail}` }];
    }
  }
}

/** `; did you mean "x"?` when a known key is close, else the list of known keys. */
function suggest(key: string, allowed: readonly string[]): string {
  if (allowed.length === 0) return '';
  const norm = (s: string): string => s.toLowerCase().replace(/[-_]/g, '');
  const k = norm(key);
  const byNorm = new Map(allowed.map((a) => [norm(a), a]));
  // The nearest known key; one that the unknown key extends or shortens (cloud_name,
  // connectTimeout) counts as nearer.
  const related = (a: string): boolean => Math.min(a.length, k.length) >= 3 && (a.startsWith(k) || k.startsWith(a));
  const score = (a: string): number => distance(k, a) / (related(a) ? 2 : 1);
  const best = [...byNorm.keys()].sort((a, b) => score(a) - score(b))[0]!;
  const limit = k.length < 3 ? 1 : Math.max(2, Math.floor(Math.max(k.length, best.length) * 0.4));
  if (related(best) || distance(k, best) <= limit) return `; did you mean "${byNorm.get(best)}"?`;
  return `; expected one of: ${allowed.join(', ')}`;
}

function oneOf(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? 'nothing';
  return `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}

const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Of a union's branches, the one the input was meant for: the branch whose
 * keys fit the input best (fewest unknown and missing keys), so that the
 * errors shown are the ones inside it. Undefined when no branch fits, or when
 * the input mixes the keys of several branches: then the union as a whole is
 * described.
 */
function bestBranch(issue: Issue & { code: 'invalid_union' }): Issue[] | undefined {
  const scored = issue.errors
    .map((errs, index) => ({ errs, index, misfit: misfit(errs) }))
    .filter((b) => b.errs.length > 0 && Number.isFinite(b.misfit));
  if (scored.length === 0) return undefined;
  scored.sort((a, b) => a.misfit - b.misfit || a.errs.length - b.errs.length || a.index - b.index);
  const best = scored[0]!;
  if (best.misfit === 0) return best.errs;
  // Unknown keys that another branch knows: the input mixes branches.
  const mixes = scored.some((b) => b !== best && b.misfit <= best.misfit);
  if (mixes) return undefined;
  return best.errs;
}

/** How badly the input's shape misses a branch: Infinity when the type itself is wrong. */
function misfit(errs: readonly Issue[]): number {
  let n = 0;
  for (const e of errs) {
    if (e.path.length === 0 && (e.code === 'invalid_type' || e.code === 'invalid_value')) return Infinity;
    if (e.path.length === 0 && e.code === 'unrecognized_keys') n += e.keys.length;
    else if (e.path.length === 1 && e.code === 'invalid_type' && e.input === undefined) n += 1;
  }
  return n;
}

/** What a union accepts, in words: `"auto", {name} or {id}`. */
function unionExpectation(issue: Issue & { code: 'invalid_union' }, ctx: IssueContext, p: PathSeg[]): string {
  const alternatives = new Set<string>();
  for (const s of schemasAt(ctx.schema, p)) {
    const d = defOf(s);
    if (d.type === 'literal' && d.values) d.values.forEach((v) => alternatives.add(JSON.stringify(v)));
    else if (d.type === 'object' && d.shape) alternatives.add(`{${Object.keys(d.shape).join(', ')}}`);
    else if (d.type === 'enum' && d.entries)
      Object.values(d.entries).forEach((v) => alternatives.add(JSON.stringify(v)));
    else alternatives.add(kind(d.type));
  }
  if (alternatives.size > 0) return oneOf([...alternatives]);
  const kinds = new Set<string>();
  for (const errs of issue.errors) {
    for (const e of errs) {
      if (e.path.length !== 0) continue;
      if (e.code === 'invalid_type') kinds.add(kind(e.expected));
      if (e.code === 'invalid_value') e.values.forEach((v) => kinds.add(JSON.stringify(v)));
    }
  }
  return oneOf([...kinds]) === 'nothing' ? 'a different value' : oneOf([...kinds]);
}

function describe(v: unknown, secret: boolean): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 0) return 'an empty mapping';
    const shown = keys.slice(0, 4).map((k) => JSON.stringify(k));
    return `a mapping with ${keys.length === 1 ? 'key' : 'keys'} ${oneOf(shown).replace(/ or /, ' and ')}${keys.length > 4 ? ', ...' : ''}`;
  }
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

/** A missing key is reported at the key of the mapping that lacks it. */
function missingPos(p: readonly PathSeg[], ctx: IssueContext): SourcePos {
  for (let n = p.length - 1; n >= 0; n--) {
    const hit = ctx.positions.get(pathKey(p.slice(0, n)));
    if (hit) return hit.key ?? hit.value;
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
  /** z.literal */
  values?: unknown[];
  /** z.enum */
  entries?: Record<string, unknown>;
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

function keysAt(root: AnySchema, p: readonly PathSeg[]): string[] {
  const keys = new Set<string>();
  for (const s of schemasAt(root, p)) {
    const d = defOf(s);
    if (d.type === 'object' && d.shape) Object.keys(d.shape).forEach((k) => keys.add(k));
  }
  return [...keys];
}
