/**
 * The worker engine's thread (./main.ts and everything it imports) as one ES
 * module's source text, bundled by scripts/build.mjs (which replaces this module's
 * compiled output). lib/bridge/spawn-worker.ts starts it from a `data:` URL when
 * `main.js` is not next to the code that spawns it: in an app bundled with
 * esbuild (docs/deploy.md). `undefined` in the TypeScript sources.
 */
export const EMBEDDED: string | undefined = undefined;
