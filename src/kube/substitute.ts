/**
 * clusterctl-style variable substitution for provider manifests:
 * `${VAR}`, `${VAR:=default}` / `${VAR:-default}` (default when unset or
 * empty) and `${VAR=default}` / `${VAR-default}` (default only when unset).
 * Only the braced form is replaced: a bare `$VAR` is left alone because
 * manifests carry shell snippets.
 */
const VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[=-])([^}]*))?\}/g;

export class MissingVariablesError extends Error {
  constructor(readonly names: string[]) {
    super(
      `the manifest needs variable(s) with no value and no default: ${names.join(', ')}; set them under the component's variables`,
    );
    this.name = 'MissingVariablesError';
  }
}

export type Variables = Readonly<Record<string, string | undefined>>;

export function substituteVariables(text: string, vars: Variables): string {
  const missing = new Set<string>();
  const out = text.replace(VARIABLE, (whole, name: string, op: string | undefined, def: string | undefined) => {
    const value = vars[name];
    if (op === undefined) {
      if (value === undefined) missing.add(name);
      return value ?? whole;
    }
    const emptyCounts = op.startsWith(':');
    if (value === undefined || (emptyCounts && value === '')) return def ?? '';
    return value;
  });
  if (missing.size > 0) throw new MissingVariablesError([...missing].sort());
  return out;
}

/** The variables a manifest refers to, and whether each has a default (for docs and plans). */
export function listVariables(text: string): Map<string, { hasDefault: boolean }> {
  const found = new Map<string, { hasDefault: boolean }>();
  for (const m of text.matchAll(VARIABLE)) {
    const name = m[1]!;
    const prev = found.get(name);
    found.set(name, { hasDefault: (prev?.hasDefault ?? false) || m[2] !== undefined });
  }
  return found;
}
