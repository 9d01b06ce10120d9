/**
 * The wasm binary of wa-sqlite's non-Asyncify build (`dist/wa-sqlite.wasm`), gzip in base64,
 * embedded in the built package by scripts/build.mjs (which replaces this module's
 * compiled output), so that a bundled app finds it without node_modules
 * (docs/deploy.md). `undefined` in the TypeScript sources: ./wa-sqlite-sync-wasm.ts then
 * reads the installed file. Loaded with `import()` only when the worker engine starts.
 */
export const EMBEDDED: string | undefined = undefined;
