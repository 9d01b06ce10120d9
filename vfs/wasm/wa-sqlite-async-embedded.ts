/**
 * The wasm binary of wa-sqlite's Asyncify build (`dist/wa-sqlite-async.wasm`), gzip in base64,
 * embedded in the built package by scripts/build.mjs (which replaces this module's
 * compiled output), so that a bundled app finds it without node_modules
 * (docs/deploy.md). `undefined` in the TypeScript sources: ./wa-sqlite.ts then reads the
 * installed file. Loaded with `import()` only when the in-process engine starts.
 */
export const EMBEDDED: string | undefined = undefined;
