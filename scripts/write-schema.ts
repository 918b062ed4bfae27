/**
 * Writes `schema/environment.schema.json`, the JSON Schema editors use to
 * check and complete environment files (the `# yaml-language-server: $schema=`
 * line). Generated from the zod schema that validates them, so the two never
 * disagree; `__tests__/unit/config-schema.test.ts` fails when it is stale.
 *
 *   npm run schema
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { environmentSchema } from '../src/model/schema.js';

export const SCHEMA_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../schema/environment.schema.json',
);

/** The JSON Schema text: what an author may write (input side: defaults make keys optional). */
export function renderSchema(): string {
  // draft-07: the dialect YAML editors (yaml-language-server) understand best.
  const json = z.toJSONSchema(environmentSchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' });
  const doc = { ...json, description: 'An environment of capi-mgmt-action: environments/<name>/*.yaml.' };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  fs.mkdirSync(path.dirname(SCHEMA_FILE), { recursive: true });
  fs.writeFileSync(SCHEMA_FILE, renderSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
}
