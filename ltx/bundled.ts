/**
 * Whether ltxvfs runs from inside an app's bundle (esbuild and the like put every module
 * into one file, whose URL `import.meta.url` then is) rather than from its own module
 * files (the installed package, or the TypeScript sources). In a bundle the wasm
 * binaries and the worker engine's thread come from the copies the package build
 * embedded (scripts/build.mjs, docs/deploy.md); from module files they are read from the
 * installed packages and started from ltxvfs's own files, which costs nothing at import.
 */
import { gunzipSync } from 'node:zlib';

export const IN_BUNDLE: boolean = !/\/ltx\/bundled\.[cm]?[jt]s$/.test(import.meta.url);

/**
 * The bytes of an embedded binary: scripts/build.mjs writes each as gzip, then base64
 * (wa-sqlite's binaries shrink to about 40%, which a bundle parses and keeps in memory).
 * @throws Error from zlib for text that is not such an encoding.
 */
export function decodeEmbedded(text: string): Uint8Array {
  return gunzipSync(Buffer.from(text, 'base64'));
}
