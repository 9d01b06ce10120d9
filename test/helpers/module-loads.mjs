// A module-loader hook (node:module register) that prints the URL of every module loaded,
// one per line on stderr: test/lib/lazy-entries.test.ts reads which modules `import('ltxvfs')` loads.
import { writeSync } from 'node:fs';

export async function load(url, context, nextLoad) {
  writeSync(2, `load ${url}\n`);
  return nextLoad(url, context);
}
