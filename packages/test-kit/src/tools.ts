import { spawnSync } from 'node:child_process';

/** How to run a test tool: its directory, environment added to this process's, and standard input. */
export interface ToolOptions {
  cwd?: string;
  /** Added to this process's environment; `undefined` removes a variable. */
  env?: Record<string, string | undefined>;
  input?: string | Uint8Array;
  /** Killed after this long (default 120 s): a tool that hangs must fail the test, not the run. */
  timeoutMs?: number;
}

/** What a tool did. `status` is null when it was killed (by a signal or the timeout). */
export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a tool (openssl, softhsm2-util, keyctl ...) and returns its exit status and output,
 * whatever the status.
 * @throws Error when the tool cannot run at all, naming the script that installs the test tools
 * @example toolStatus('keyctl', ['print', id]).status // 1 once the key is gone
 */
export function toolStatus(command: string, args: readonly string[], options: ToolOptions = {}): ToolResult {
  const result = spawnSync(command, [...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
    maxBuffer: 64 * 1024 * 1024,
    ...(options.input === undefined ? {} : { input: options.input }),
  });
  if (result.error !== undefined) {
    const missing = (result.error as NodeJS.ErrnoException).code === 'ENOENT';
    if (missing) throw new Error(`${command} is not installed: run scripts/install-test-tools.sh`);
    throw new Error(`${command} failed to run: ${result.error.message}`);
  }
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Runs a tool that must succeed and returns its stdout.
 * @throws Error naming the command, its exit status or signal and its stderr when it does not exit 0
 * @example runTool('openssl', ['genpkey', '-algorithm', 'ed25519'])
 */
export function runTool(command: string, args: readonly string[], options: ToolOptions = {}): string {
  const result = toolStatus(command, args, options);
  if (result.status !== 0) {
    const output = result.stderr.trim() || result.stdout.trim();
    const how = String(result.status ?? 'a signal or the timeout');
    throw new Error(`${command} ${args.join(' ')} exited with ${how}: ${output}`);
  }
  return result.stdout;
}
