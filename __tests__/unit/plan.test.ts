import { describe, expect, it } from 'vitest';
import { buildPlan, type Change } from '../../src/plan/plan.js';
import { canonicalJson } from '../../src/util/canonical-json.js';
import { renderJson, renderMarkdown, renderText, summaryLine } from '../../src/plan/render.js';
import { Redactor } from '../../src/util/redact.js';

const changes: Change[] = [
  {
    layer: 'seed-k3s',
    address: 'k3s',
    action: 'update',
    before: 'v1.33.0+k3s1',
    after: 'v1.34.8+k3s1',
    reason: 'version',
  },
  { layer: 'seed-infra', address: 'server/s', action: 'replace', before: { flavor: 'a' }, after: { flavor: 'b' } },
  { layer: 'seed-infra', address: 'keypair/s', action: 'no-op' },
  { layer: 'seed-infra', address: 'network/n', action: 'create', after: { cidr: '192.168.100.0/24' } },
];
const layers = ['seed-infra', 'seed-k3s'];

describe('Plan', () => {
  it('sorts by layer order then address and counts actions', () => {
    const p = buildPlan({ environment: 'prod', layers, changes });
    expect(p.changes.map((c) => c.address)).toEqual(['keypair/s', 'network/n', 'server/s', 'k3s']);
    expect(p.counts).toEqual({ create: 1, update: 1, replace: 1, delete: 0, 'no-op': 1 });
  });

  it('has a stable hash, independent of input order and of key order', () => {
    const a = buildPlan({ environment: 'prod', layers, changes });
    const b = buildPlan({
      environment: 'prod',
      layers,
      changes: [...changes]
        .reverse()
        .map((c) => (c.after && typeof c.after === 'object' ? { ...c, after: { ...c.after } } : c)),
    });
    expect(b.hash).toBe(a.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).toBe('{"a":{"c":3,"d":2},"b":1}');
  });

  it('changes its hash when what would be done changes, not when no-op details do', () => {
    const a = buildPlan({ environment: 'prod', layers, changes });
    const moreNoop = buildPlan({
      environment: 'prod',
      layers,
      changes: [...changes, { layer: 'seed-infra', address: 'x', action: 'no-op', before: 'anything' }],
    });
    expect(moreNoop.hash).toBe(a.hash);
    const other = buildPlan({
      environment: 'prod',
      layers,
      changes: changes.map((c) => (c.address === 'k3s' ? { ...c, after: 'v1.35.0+k3s1' } : c)),
    });
    expect(other.hash).not.toBe(a.hash);
    expect(buildPlan({ environment: 'staging', layers, changes }).hash).not.toBe(a.hash);
  });

  it('redacts secrets in before, after and reason', () => {
    const r = new Redactor();
    r.add('s3cr3t-value');
    const p = buildPlan({
      environment: 'prod',
      layers,
      changes: [
        {
          layer: 'seed-infra',
          address: 'a',
          action: 'create',
          after: { nested: ['x s3cr3t-value y'] },
          reason: 'has s3cr3t-value',
        },
      ],
      redactor: r,
    });
    const json = renderJson(p);
    expect(json).not.toContain('s3cr3t-value');
    expect(json).toContain('x (sensitive) y');
  });
});

describe('renderers', () => {
  const plan = buildPlan({ environment: 'prod', layers, changes, notes: ['no block storage: data volume skipped'] });

  it('summarises', () => {
    expect(summaryLine(plan)).toBe('Plan for prod: 1 to create, 1 to update, 1 to replace.');
    expect(summaryLine(buildPlan({ environment: 'prod', layers, changes: [] }))).toBe(
      'No changes. prod matches its desired state.',
    );
  });

  it('renders text with symbols and the hash', () => {
    const t = renderText(plan);
    expect(t).toContain('seed-infra: 2 change(s)');
    expect(t).toContain('  -/+ server/s');
    expect(t).toContain('    + network/n');
    expect(t).not.toContain('keypair/s');
    expect(t).toContain('note: no block storage: data volume skipped');
    expect(t).toContain(`plan hash: ${plan.hash.slice(0, 12)}`);
  });

  it('renders markdown with one collapsible section per layer', () => {
    const md = renderMarkdown(plan);
    expect(md.match(/<details/g)).toHaveLength(2);
    expect(md).toContain('<summary>seed-k3s: 1 change(s)</summary>');
    expect(md).toContain('**Plan for prod: 1 to create, 1 to update, 1 to replace.**');
  });

  it('cuts markdown to the limit with a note', () => {
    const many: Change[] = Array.from({ length: 400 }, (_, i) => ({
      layer: i % 2 ? 'seed-infra' : 'seed-k3s',
      address: `thing/${String(i).padStart(4, '0')}`,
      action: 'create',
      after: { payload: 'x'.repeat(300) },
    }));
    const big = buildPlan({ environment: 'prod', layers, changes: many });
    const md = renderMarkdown(big, { limit: 60_000 });
    expect(md.length).toBeLessThanOrEqual(60_000);
    expect(md).toMatch(/Output cut to stay under 60000 characters/);
    expect(renderMarkdown(big).length).toBeLessThanOrEqual(60_000);
  });

  it('keeps a value containing ``` from closing the code block', () => {
    const p = buildPlan({
      environment: 'e',
      layers,
      changes: [{ layer: 'seed-infra', address: 'a', action: 'create', after: '```evil' }],
    });
    const md = renderMarkdown(p);
    expect(md.match(/```/g)?.length).toBe(4);
  });
});

describe('Redactor', () => {
  it('masks clouds.yaml secret fields, not the whole document', () => {
    const r = new Redactor();
    r.addDocument(
      'clouds:\n  lab:\n    auth:\n      application_credential_secret: abcdef123456\n      auth_url: http://x\n',
    );
    expect(r.redact('clouds: lab secret=abcdef123456')).toBe('clouds: lab secret=(sensitive)');
  });

  it('masks PEM bodies line by line, and short values whole', () => {
    const r = new Redactor();
    r.add('-----BEGIN KEY-----\nAAAAB3NzaC1yc2EAAAADAQABAAABAQ\nBBBBB3NzaC1yc2EAAAADAQABAAABAQ\n-----END KEY-----\n');
    r.add('abc');
    expect(r.redact('line AAAAB3NzaC1yc2EAAAADAQABAAABAQ and abc')).toBe('line (sensitive) and (sensitive)');
    expect(r.redact('-----BEGIN KEY-----')).toBe('-----BEGIN KEY-----');
  });
});
