/**
 * docs/kysely.md and docs/drizzle.md show their example test files as they are (imports
 * of the package's entries stand for the relative source paths the files use); the
 * examples run as test files of their own.
 */
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLES = [
  { doc: 'docs/kysely.md', file: 'test/docs/kysely-example.test.ts', entry: 'ltxvfs/kysely' },
  { doc: 'docs/drizzle.md', file: 'test/docs/drizzle-example.test.ts', entry: 'ltxvfs/drizzle' },
];

/** The file as a doc shows it: package imports instead of source paths. */
function asDocumented(source: string): string {
  return source.replace(/'\.\.\/\.\.\/lib\/index\.js'/g, "'ltxvfs'")
    .replace(/'\.\.\/\.\.\/lib\/(\w+)\/index\.js'/g, "'ltxvfs/$1'").trimEnd();
}

for (const { doc, file, entry } of EXAMPLES) {
  t.test(`${doc} shows ${file} verbatim`, async (t) => {
    const text = await readFile(`${ROOT}${doc}`, 'utf8');
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)\n```/g)].map((m) => m[1]);
    const expected = asDocumented(await readFile(`${ROOT}${file}`, 'utf8'));
    t.ok(expected.includes(`from '${entry}'`), `${file} imports ${entry}`);
    t.ok(blocks.includes(expected), `${doc} has ${file} verbatim`);
  });
}
