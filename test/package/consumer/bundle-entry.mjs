// The serverless app: bundled with `esbuild --bundle --platform=node --format=esm` and run
// from a folder with no node_modules. node bundle.mjs <replica-url> <engine>
// → {"n": count, "engine": …, "firstQueryMs": ms from process start to the first row}
import { performance } from 'node:perf_hooks';
import { openDatabase } from 'ltxvfs';

const engine = process.argv[3] ?? 'asyncify';
const db = await openDatabase(process.argv[2], { engine, pollIntervalMs: 0 });
const row = await db.get('SELECT count(*) AS n FROM Track');
const firstQueryMs = performance.now(); // since the process started (performance.timeOrigin)
// A relative time needs chrono-node, which must have come along in the bundle.
await db.exec("PRAGMA litestream_time = '0 seconds ago'");
const relative = await db.get('SELECT count(*) AS n FROM Track');
await db.close();
console.log(JSON.stringify({ n: row.n, relativeN: relative.n, engine, firstQueryMs: Math.round(firstQueryMs) }));
