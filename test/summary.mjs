// The closing lines of `npm test`, from vitest's JSON report:
//   node test/summary.mjs RUN_JSON [SKIPPED_LAB_LIST_JSON]
// The last line is always `N passed, N failed, N skipped`. A test that did
// not run because its file failed (a hook such as the lab check threw, or the
// file did not load) counts as failed, never as skipped: only the explicit
// CAPI_LAB_SKIP=1 skips, and then the lab tests it left out are counted.
import fs from 'node:fs';

const [runFile, labListFile] = process.argv.slice(2);
let passed = 0;
let failed = 0;
let skipped = 0;
const notRun = [];

if (runFile && fs.existsSync(runFile)) {
  const report = JSON.parse(fs.readFileSync(runFile, 'utf8'));
  for (const file of report.testResults) {
    const results = file.assertionResults ?? [];
    const fileFailed = file.status === 'failed';
    if (fileFailed && results.length === 0) {
      failed++;
      notRun.push(`${file.name}: did not load`);
    }
    let lost = 0;
    for (const t of results) {
      if (t.status === 'passed') passed++;
      else if (t.status === 'failed') failed++;
      else if (fileFailed) lost++;
      else skipped++;
    }
    if (lost > 0) notRun.push(`${file.name}: ${lost} test(s) did not run because the file failed`);
    failed += lost;
  }
} else {
  console.log('no test report was written: vitest did not finish');
  failed++;
}

if (labListFile) {
  const listed = fs.existsSync(labListFile) ? JSON.parse(fs.readFileSync(labListFile, 'utf8')) : [];
  const files = new Set(listed.map((t) => t.file));
  skipped += listed.length;
  console.log(`CAPI_LAB_SKIP=1: the lab was not used; ${listed.length} lab test(s) in ${files.size} file(s) skipped`);
}
for (const line of notRun) console.log(`failed, not run: ${line}`);
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
