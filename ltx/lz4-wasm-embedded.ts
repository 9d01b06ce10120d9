/**
 * The wasm binary of `lz4-wasm-nodejs` (`lz4_wasm_nodejs_bg.wasm`), gzip in base64, embedded in
 * the built package by scripts/build.mjs (which replaces this module's compiled output),
 * so that an app bundled with esbuild finds it without node_modules (docs/deploy.md).
 * `undefined` in the TypeScript sources: ./lz4-wasm.ts then reads the installed file.
 */
export const EMBEDDED: string | undefined = undefined;
