import t from 'tap';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { decodeEmbedded, IN_BUNDLE } from '../../ltx/bundled.js';

t.test('running from the module files is not running from a bundle', async (t) => {
  t.equal(IN_BUNDLE, false);
});

t.test('an embedded binary as scripts/build.mjs writes it decodes to the same bytes', async (t) => {
  const wasm = readFileSync(createRequire(import.meta.url).resolve('lz4-wasm-nodejs/lz4_wasm_nodejs_bg.wasm'));
  const text = gzipSync(wasm, { level: 9 }).toString('base64');
  t.ok(text.length < wasm.length, 'smaller than the binary');
  t.same(Buffer.from(decodeEmbedded(text)), wasm);
});

t.test('text that is not gzip in base64 throws', async (t) => {
  t.throws(() => decodeEmbedded('bm90IGd6aXA='), /incorrect header check/);
});
