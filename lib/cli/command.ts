/**
 * The shape of one `ltxvfs` command and what it writes to: shared by the command table
 * (lib/cli/commands.ts), the commands kept in their own modules (lib/cli/hydrate-command.ts)
 * and the argument parser (lib/cli/run.ts), so that none of them imports another for a type.
 */

/** Where a command writes, and the environment it reads. */
export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

/** Parsed options of a command (`util.parseArgs` values), by long name. */
export type CommandValues = Record<string, string | boolean | undefined>;

/** One command: its options for `util.parseArgs`, argument count and the function. */
export interface Command {
  synopsis: string;
  minArgs: number;
  maxArgs: number;
  options: Record<string, { type: 'string' | 'boolean' }>;
  run(args: string[], values: CommandValues, io: CliIO): Promise<number>;
}
