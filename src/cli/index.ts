#!/usr/bin/env node
import { main } from './main.js';
import { redactError } from '../util/redact.js';

main({ argv: process.argv.slice(2) }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`capi-mgmt: ${redactError(e).message}\n`);
    process.exitCode = 1;
  },
);
