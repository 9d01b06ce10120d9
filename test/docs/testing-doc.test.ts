/**
 * docs/testing.md shows the two example files as they are (imports of `ltxvfs` and
 * `ltxvfs/testing` stand for the relative source paths the files use), and the node:test
 * example passes under `node --test`. The tap example runs as a test file of its own.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = ['test/docs/testing-node-test.example.ts', 'test/docs/testing-tap.test.ts'];

/** The file as the doc shows it: package imports instead of source paths. */
function asDocumented(source: string): string {
  return source.replaceAll("'../../lib/index.js'", "'ltxvfs'").replaceAll("'../../lib/testing/index.js'", "'ltxvfs/testing'").trimEnd();
}

t.test('docs/testing.md shows each example file as it is', async (t) => {
  const doc = await readFile(`${ROOT}docs/testing.md`, 'utf8');
  const blocks = [...doc.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1]);
  for (const file of EXAMPLES) {
    const expected = asDocumented(await readFile(`${ROOT}${file}`, 'utf8'));
    t.ok(expected.includes("from 'ltxvfs/testing'"), `${file} imports the testing entry`);
    t.ok(blocks.includes(expected), `docs/testing.md has ${file} verbatim`);
  }
});

t.test('the node:test example passes under node --test', async (t) => {
  const result = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', EXAMPLES[0]], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
  t.equal(result.code, 0, result.out);
  t.match(result.out, /^# pass 2$/m, 'both tests ran and passed');
  t.match(result.out, /^# fail 0$/m);
});
