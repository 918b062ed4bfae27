import { inspect } from 'node:util';
import { parseYamlSecretsAsWritten, SECRET_KEYS } from './yaml-secrets.js';

const REDACTED = '(sensitive)';

/**
 * Lines of a multi-line secret shorter than this are not masked on their
 * own: they are PEM padding (`==`), braces or blank-ish lines, and masking
 * them would blank out unrelated text. The whole value is still masked.
 */
const MIN_LINE = 12;
/**
 * A base64 fragment (a secret seen inside a longer base64 blob) shorter
 * than this is not masked: it would match by chance in any blob. The
 * value's own base64 (with its padding) is masked at any length.
 */
const MIN_FRAGMENT = 8;

/** `scheme://userinfo@`: the userinfo is a credential (mirrors, S3 URLs, git remotes). */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'<>`]+)@/gi;

/**
 * The base64 text that depends only on `value`'s bytes when they sit at
 * byte offset `align` (0, 1 or 2) of a 3-byte group inside a longer
 * encoded blob: the first and last characters mix in the neighbours' bits
 * and are left out. The three alignments together find the value wherever
 * it sits in the blob.
 */
export function base64Fragment(value: Buffer, align: 0 | 1 | 2): string {
  const encoded = Buffer.concat([Buffer.alloc(align), value]).toString('base64');
  const firstBit = 8 * align;
  const endBit = 8 * (align + value.length);
  return encoded.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6));
}

const toBase64Url = (s: string): string => s.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

/**
 * How a single-line value appears after the encodings tools apply when they
 * print or ship it: JSON string escaping (once and nested), URL encoding
 * (path/query and form style), and base64 (standard and URL-safe), both
 * alone and embedded in a longer blob at every alignment.
 */
function encodedForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const json = JSON.stringify(value).slice(1, -1);
  forms.add(json);
  forms.add(JSON.stringify(json).slice(1, -1));
  forms.add(encodeURIComponent(value));
  forms.add(new URLSearchParams({ v: value }).toString().slice(2));
  const bytes = Buffer.from(value, 'utf8');
  const whole = bytes.toString('base64');
  forms.add(whole);
  forms.add(toBase64Url(whole));
  for (const align of [0, 1, 2] as const) {
    const fragment = base64Fragment(bytes, align);
    if (fragment.length < MIN_FRAGMENT) continue;
    forms.add(fragment);
    forms.add(toBase64Url(fragment));
  }
  forms.delete('');
  return [...forms];
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Every Redactor alive in this process, for last-resort redaction where none is at hand. */
const everyRedactor = new Set<Redactor>();

/**
 * Knows every secret value of a run and blanks it out of text and data.
 * A single-line value is masked whole, whatever its length, with its
 * encoded forms. A multi-line value (a PEM key, a file) is masked whole and
 * line by line (PEM body lines, not the markers); structured documents are
 * registered by their secret fields, never as whole documents: masking
 * `clouds:` would blank half of every log.
 */
export class Redactor {
  /** Single-line patterns: safe to hand to a log masker that works per line. */
  private readonly singleLine = new Set<string>();
  /** Whole multi-line values: only this class's own text replacement can match them. */
  private readonly multiLine = new Set<string>();
  /** Every value registered, as given (trimmed): the material of the configuration's fingerprint. */
  private readonly raw = new Set<string>();
  /** The values registered from the configuration (not the run's own), once sealed. */
  private configValues: string[] | undefined;
  private pattern: RegExp | undefined;

  constructor() {
    everyRedactor.add(this);
  }

  /** Register a secret; numbers and booleans count as the text they were written as. */
  add(value: string | number | boolean | undefined | null): void {
    if (value === undefined || value === null) return;
    const text = String(value);
    const trimmed = text.trim();
    if (trimmed === '') return;
    this.raw.add(trimmed);
    this.pattern = undefined;
    if (!/[\r\n]/.test(trimmed)) {
      for (const f of encodedForms(trimmed)) this.singleLine.add(f);
      return;
    }
    this.multiLine.add(trimmed);
    this.multiLine.add(trimmed.replace(/\r?\n/g, '\r\n'));
    // The whole value in one line: JSON-escaped, URL-encoded, base64.
    for (const f of encodedForms(trimmed)) if (!/[\r\n]/.test(f)) this.singleLine.add(f);
    for (const line of trimmed.split(/\r?\n/)) {
      const l = line.trim();
      if (l.length >= MIN_LINE && !l.startsWith('-----')) for (const f of encodedForms(l)) this.singleLine.add(f);
    }
  }

  /**
   * Register the credentials inside a URL (`https://user:pass@host`): the
   * userinfo as written, and the password (or a lone user, which is then a
   * token) decoded. A URL without credentials registers nothing.
   */
  addUrl(url: string | undefined): void {
    if (!url) return;
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(url.trim())?.[1];
    if (!userinfo) return;
    this.add(userinfo);
    const colon = userinfo.indexOf(':');
    const secret = colon === -1 ? userinfo : userinfo.slice(colon + 1);
    this.add(secret);
    this.add(safeDecode(secret));
  }

  /** Register the secret fields of a YAML or JSON document (clouds.yaml, kubeconfig). */
  addDocument(text: string): void {
    let doc: unknown;
    try {
      doc = parseYamlSecretsAsWritten(text);
    } catch {
      this.add(text);
      return;
    }
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, child] of Object.entries(v)) {
          if (SECRET_KEYS.has(k) && (typeof child !== 'object' || child === null)) this.add(child as string);
          else walk(child);
        }
      }
    };
    walk(doc);
  }

  /**
   * Freeze what is registered so far as the configuration's secrets (the
   * loader calls this once the environment is loaded, before the run adds
   * keys and kubeconfigs of its own, which change from run to run).
   */
  sealConfig(): void {
    this.configValues = [...this.raw].sort();
  }

  /** The configuration's secret values, sorted; undefined until sealed. */
  configSecrets(): readonly string[] | undefined {
    return this.configValues;
  }

  /** Every single-line pattern, longest first (for a log masker such as the runner's). */
  values(): string[] {
    return [...this.singleLine].sort((a, b) => b.length - a.length);
  }

  private regex(): RegExp | undefined {
    if (this.pattern) return this.pattern;
    const all = [...this.multiLine, ...this.singleLine].sort((a, b) => b.length - a.length);
    if (all.length === 0) return undefined;
    this.pattern = new RegExp(all.map(escapeRegExp).join('|'), 'g');
    return this.pattern;
  }

  redact(text: string): string {
    const re = this.regex();
    const masked = re ? text.replace(re, REDACTED) : text;
    return masked.replace(URL_USERINFO, `$1${REDACTED}@`);
  }

  /** A deep copy of `value` with every secret string replaced. */
  redactValue<T>(value: T): T {
    if (typeof value === 'string') return this.redact(value) as T;
    if (Array.isArray(value)) return value.map((v: unknown) => this.redactValue(v)) as T;
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = this.redactValue(v);
      return out as T;
    }
    return value;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Text with every secret known anywhere in this process blanked out (and URL credentials). */
function redactEverywhere(text: string): string {
  let out = text;
  for (const r of everyRedactor) out = r.redact(out);
  return out.replace(URL_USERINFO, `$1${REDACTED}@`);
}

/**
 * Make an error safe to print or ship: its message and stack, every string
 * field (stderr, body, url...), nested data, its `cause` chain and the
 * errors of an AggregateError, all redacted in place so the error keeps its
 * class and fields for callers that inspect them. Without a redactor, every
 * redactor of the process is used. Anything thrown that is not an Error
 * becomes one. Used wherever an error leaves: the run boundary, the faces'
 * last-resort handlers and the post step.
 */
export function redactError(e: unknown, redactor?: Redactor): Error {
  const clean = (s: string): string => (redactor ? redactor.redact(s) : redactEverywhere(s));
  const seen = new Set<unknown>();

  const anything = (x: unknown): unknown => {
    if (typeof x === 'string') return clean(x);
    if (x instanceof Error) return error(x);
    if (x !== null && typeof x === 'object') return data(x);
    return x;
  };

  const data = (v: object): unknown => {
    if (seen.has(v)) return v;
    seen.add(v);
    if (Array.isArray(v)) return v.map(anything);
    if (Buffer.isBuffer(v)) return Buffer.from(clean(v.toString('latin1')), 'latin1');
    const proto: unknown = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      // Headers, Maps, sockets, class instances: kept as they are unless their printout shows a secret.
      const shown = inspect(v, { depth: 4 });
      return clean(shown) === shown ? v : clean(shown);
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, anything(x)]));
  };

  const error = (err: Error): Error => {
    if (seen.has(err)) return err;
    seen.add(err);
    const fields = new Map<string, unknown>([['message', clean(err.message)]]);
    if (typeof err.stack === 'string') fields.set('stack', clean(err.stack));
    if (err.cause !== undefined) fields.set('cause', anything(err.cause));
    if (err instanceof AggregateError) fields.set('errors', (err.errors as unknown[]).map(anything));
    for (const [k, v] of Object.entries(err)) if (!fields.has(k)) fields.set(k, anything(v));
    try {
      for (const [k, value] of fields) {
        const enumerable = Object.prototype.propertyIsEnumerable.call(err, k);
        Object.defineProperty(err, k, { value, writable: true, configurable: true, enumerable });
      }
      return err;
    } catch {
      // A frozen error, or one with an unwritable field: a plain error carries the redacted text.
      const cause = fields.get('cause');
      const out = new Error(String(fields.get('message')), cause === undefined ? undefined : { cause });
      out.name = err.name;
      out.stack = String(fields.get('stack') ?? out.stack);
      return out;
    }
  };

  if (e instanceof Error) return error(e);
  return new Error(clean(typeof e === 'string' ? e : inspect(e, { depth: 4 })));
}

export { REDACTED };

/** The shape of the engine's logger, restated here so this module depends on nothing above it. */
interface LineLogger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
  group<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/**
 * A logger that redacts every line before handing it on: the run gives
 * this to the engine, so layer logs and close-step warnings are clean
 * whatever logger the face (or a library user) passed in.
 */
export function redactingLogger<L extends LineLogger>(log: L, redactor: Redactor): LineLogger {
  return {
    info: (m) => log.info(redactor.redact(m)),
    warn: (m) => log.warn(redactor.redact(m)),
    debug: (m) => log.debug(redactor.redact(m)),
    group: (name, fn) => log.group(redactor.redact(name), fn),
  };
}
