/**
 * Options that were renamed: one name per option (issue 13 item 6; STYLE: units in
 * names). A caller still passing the old name — from JavaScript, or a cast — gets a
 * usage error naming the new one instead of a setting silently ignored.
 */
import { LtxvfsError } from '../../ltx/errors.js';

/** Old option name → its replacement. */
export const RENAMED_OPTIONS: Readonly<Record<string, string>> = Object.freeze({
  cacheSize: 'cacheSizeBytes',
});

/**
 * @param options the options object a caller passed (undefined passes).
 * @param where the function it was passed to, for the message (`openDatabase`).
 * @throws LtxvfsError `LTXVFS_ERR_USAGE` naming the old option and its replacement when `options` has an old name.
 */
export function rejectRenamedOptions(options: object | undefined, where: string): void {
  if (options === undefined || options === null) return;
  for (const [old, replacement] of Object.entries(RENAMED_OPTIONS)) {
    if (Object.hasOwn(options, old)) {
      throw new LtxvfsError('LTXVFS_ERR_USAGE', `${where}: option ${old} was renamed ${replacement} (bytes)`, { key: old });
    }
  }
}
