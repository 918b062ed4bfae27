/**
 * ssh2's bundled poly1305 (emscripten) reads the CommonJS `__dirname` when it
 * loads. Inside the ncc ESM bundle there is none and the whole bundle would
 * fail at start, so give it one. Imported before ssh2; harmless unbundled,
 * where each CommonJS module has its own `__dirname`.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const g = globalThis as { __dirname?: string };
g.__dirname ??= path.dirname(fileURLToPath(import.meta.url));
