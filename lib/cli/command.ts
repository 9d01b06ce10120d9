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
  /** Where SQL comes from when the SQL argument is `-` or missing; none: such a run is a usage error. */
  stdin?: NodeJS.ReadableStream & { isTTY?: boolean };
}

/** Parsed options of a command (`util.parseArgs` values), by long name; repeatable options give arrays. */
export type CommandValues = Record<string, string | boolean | string[] | undefined>;

/** One command: its options for `util.parseArgs`, argument count and the function. */
export interface Command {
  synopsis: string;
  minArgs: number;
  maxArgs: number;
  options: Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;
  run(args: string[], values: CommandValues, io: CliIO): Promise<number>;
}
