/**
 * Embeds bootstrap.sh into bootstrap-script.ts, so the script travels inside
 * the ncc bundle (a file next to the module would not). Run after editing
 * the script:
 *
 *   node --import tsx src/layers/seed-k3s/embed.ts
 *
 * A unit test fails when the embedded copy differs from bootstrap.sh.
 */
import fs from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const SCRIPT_PATH = fileURLToPath(new URL('./bootstrap.sh', import.meta.url));
export const MODULE_PATH = fileURLToPath(new URL('./bootstrap-script.ts', import.meta.url));

/** The TypeScript module for a script: one template literal, escaped. */
export function renderScriptModule(script: string): string {
  const body = script.replace(/\\/g, '\\\\').replace(/`/g, '\\`').replace(/\$\{/g, '\\${');
  return (
    '// Generated from bootstrap.sh by embed.ts: edit bootstrap.sh, then run\n' +
    '// `node --import tsx src/layers/seed-k3s/embed.ts`.\n' +
    `export const BOOTSTRAP_SCRIPT = \`${body}\`;\n`
  );
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  fs.writeFileSync(MODULE_PATH, renderScriptModule(fs.readFileSync(SCRIPT_PATH, 'utf8')));
  console.log(`wrote ${MODULE_PATH}`);
}
