/**
 * The editor JSON Schema (`schema/environment.schema.json`) is generated from
 * the zod schema; this fails when the committed file is stale.
 */
import fs from 'node:fs';
import path from 'node:path';
// ajv (a dev dependency, JSON Schema draft-07) checks the generated schema as an editor would.
import Ajv from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderSchema, SCHEMA_FILE } from '../../scripts/write-schema.js';

const ROOT = path.resolve(path.dirname(SCHEMA_FILE), '..');
const EXAMPLE = path.join(ROOT, 'environments', 'example', 'environment.yaml');

describe('environment JSON Schema', () => {
  it('is up to date with src/model/schema.ts', () => {
    const committed = fs.existsSync(SCHEMA_FILE) ? fs.readFileSync(SCHEMA_FILE, 'utf8') : '';
    expect(
      committed === renderSchema(),
      `${path.relative(ROOT, SCHEMA_FILE)} is stale: run \`npm run schema\` and commit the result`,
    ).toBe(true);
  });

  it('is deterministic and describes the environment', () => {
    const text = renderSchema();
    expect(renderSchema()).toBe(text);
    const schema = JSON.parse(text) as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['extends', 'openstack', 'seed', 'cluster', 'versions', 'backup', 'kubeconfig']),
    );
    // Keys with defaults are optional to write; only the two real requirements remain.
    expect(schema.required.sort()).toEqual(['openstack', 'seed']);
    expect(text).toContain('"additionalProperties": false');
  });

  it('is the schema the example environment points at', () => {
    const first = fs.readFileSync(EXAMPLE, 'utf8').split('\n')[0];
    expect(first).toBe('# yaml-language-server: $schema=../../schema/environment.schema.json');
    const target = path.resolve(path.dirname(EXAMPLE), '../../schema/environment.schema.json');
    expect(target).toBe(SCHEMA_FILE);
  });

  it('accepts the example environment and rejects an unknown key', () => {
    const ajv = new Ajv({ allErrors: true, unknownFormats: 'ignore', logger: false });
    const schema = JSON.parse(renderSchema()) as object;
    const example: unknown = parse(fs.readFileSync(EXAMPLE, 'utf8'));
    expect(ajv.validate(schema, example), JSON.stringify(ajv.errors)).toBe(true);
    expect(ajv.validate(schema, { ...(example as object), sed: {} })).toBe(false);
  });
});
