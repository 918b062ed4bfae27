import { parse } from 'yaml';

const REDACTED = '(sensitive)';
/** Keys whose values are secret inside documents such as clouds.yaml or kubeconfigs. */
const SECRET_KEYS = new Set([
  'password',
  'application_credential_secret',
  'token',
  'secret',
  'client-key-data',
  'client-certificate-data',
  'private_key',
]);
/** Shorter values are not masked: they would blank out unrelated text. */
const MIN_LENGTH = 6;

/**
 * Knows every secret value of a run and blanks it out of text and data.
 * Multi-line secrets are registered line by line (PEM body lines, not the
 * markers) and structured documents by their secret fields, never as whole
 * documents: masking `clouds:` would blank half of every log.
 */
export class Redactor {
  private readonly secrets = new Set<string>();

  add(value: string | undefined): void {
    if (value === undefined) return;
    const trimmed = value.trim();
    if (!trimmed.includes('\n')) {
      if (trimmed.length >= MIN_LENGTH) this.secrets.add(trimmed);
      return;
    }
    for (const line of trimmed.split(/\r?\n/)) {
      const l = line.trim();
      if (l.length >= 16 && !l.startsWith('-----')) this.secrets.add(l);
    }
  }

  /** Register the secret fields of a YAML or JSON document (clouds.yaml, kubeconfig). */
  addDocument(text: string): void {
    let doc: unknown;
    try {
      doc = parse(text);
    } catch {
      this.add(text);
      return;
    }
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object') {
        for (const [k, child] of Object.entries(v)) {
          if (SECRET_KEYS.has(k) && typeof child === 'string') this.add(child);
          else walk(child);
        }
      }
    };
    walk(doc);
  }

  /** Every registered value, longest first (for log masking). */
  values(): string[] {
    return [...this.secrets].sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let out = text;
    for (const s of this.values()) out = out.split(s).join(REDACTED);
    return out;
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

export { REDACTED };
