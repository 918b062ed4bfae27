#!/usr/bin/env node
import { main } from './main.js';

main({ argv: process.argv.slice(2) }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`capi-mgmt: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
