/**
 * Bench child for the cold-start rows that count library loading (bench/service.ts): a
 * fresh Node process that loads ltxvfs the way an application does, with `import()` of
 * the package's entry point, then opens the replica and runs one query — what a
 * serverless function's first request pays beyond Node's own start. The Litestream VFS's
 * counterpart is `.load` of its shared library (the Go runtime's start and the VFS's
 * registration), which the rows without library loading leave out.
 *
 * One JSON document in on stdin (`url`, `sql`, `params`), one JSON line out on stdout:
 * `loadMs` (the `import()`), `openMs` (`openDatabase`, wasm compile included), `queryMs`.
 */
/** What the child reads. */
export interface ColdLoadInput { phase: 'cold-load'; url: string; sql: string; params: number[] }

/** What the child prints. */
export interface ColdLoadOutput { loadMs: number; openMs: number; queryMs: number; result: string }

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ColdLoadInput;
const t0 = performance.now();
const { openDatabase } = await import('../lib/index.js');
const t1 = performance.now();
const db = await openDatabase(input.url, { shared: false });
const t2 = performance.now();
const row = await db.get(input.sql, input.params);
const t3 = performance.now();
await db.close();
const output: ColdLoadOutput = { loadMs: t1 - t0, openMs: t2 - t1, queryMs: t3 - t2, result: Object.values((row ?? {}) as Record<string, unknown>).join('|') };
process.stdout.write(`${JSON.stringify(output)}\n`);
