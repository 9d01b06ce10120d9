#!/usr/bin/env node
// `npm test`: runs tap with the arguments given, passes its output through unchanged, and
// when anything failed prints every failing test point again (with its YAML diagnostic) at
// the very end, after the coverage table. A CI log is often read from its tail; without
// this, a failure among 13,000 assertions sits thousands of lines above the last screen.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
// tap's own bin, resolved through its package.json so the script does not depend on PATH.
const tapPackage = require.resolve('tap/package.json');
const tapBin = path.join(path.dirname(tapPackage), require(tapPackage).bin.tap);

const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], {
  stdio: ['inherit', 'pipe', 'inherit'],
});

/** Failing points, each its `not ok` line and the diagnostic block under it (capped). */
const failures = [];
let open = null; // the failure whose diagnostic block is being collected
const DIAG_LINES = 25;
const DETAILED = 10; // failures repeated with their diagnostic; the rest one line each

const lines = createInterface({ input: child.stdout, crlfDelay: Infinity });
lines.on('line', (line) => {
  process.stdout.write(`${line}\n`);
  if (open !== null) {
    const trimmed = line.trimStart();
    if (open.lines.length === 1 && trimmed !== '---') {
      open = null; // no diagnostic block
    } else {
      if (open.lines.length <= DIAG_LINES) open.lines.push(line);
      if (trimmed === '...') open = null;
      return;
    }
  }
  if (/^\s*not ok \d+/.test(line) && !/# (TODO|SKIP)\b/i.test(line)) {
    open = { lines: [line] };
    failures.push(open);
  }
});

const linesClosed = new Promise((resolve) => lines.once('close', resolve));
child.on('close', (code, signal) => {
  void linesClosed.then(() => {
    if (failures.length > 0) {
      process.stdout.write(`\n# failing test points, repeated from above (the first ${DETAILED} with their diagnostics):\n`);
      for (const failure of failures.slice(0, DETAILED)) process.stdout.write(`${failure.lines.join('\n')}\n`);
      process.stdout.write(`\n# ${failures.length} failing test point(s), innermost first:\n`);
      for (const failure of failures) process.stdout.write(`# ${failure.lines[0].trim()}\n`);
    }
    if (signal !== null) process.kill(process.pid, signal);
    process.exitCode = code ?? 1;
  });
});
