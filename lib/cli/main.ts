#!/usr/bin/env node
/** The `ltxvfs` executable: runs {@link runCli} on the process's arguments. */
import { runCli } from './run.js';

process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, stdin: process.stdin });
