import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { stopChild, toolStatus, uniqueService as kitUniqueService, type ToolResult } from '@keymint/test-kit';
import { BIN, runProgram, type RunResult } from '../helpers.js';

/**
 * What the keychain tests of the built CLI add to the test kit's keyring harness: their service
 * names, and a kernel keyring that several keymint processes join. The D-Bus and GNOME Keyring
 * session itself is the kit's startKeyringSession, the one the backend's own tests use.
 */

/** A service name of its own per test (`keymint-e2e-...`): the kernel keyring outlives a run (root's persistent keyring). */
export function uniqueService(what: string): string {
  return kitUniqueService(what, 'keymint-e2e');
}

export interface KeyutilsRing {
  /** Runs the built keymint in the ring, as a user's login session would. */
  keymint(args: readonly string[], options: { cwd: string; env?: Record<string, string> }): Promise<RunResult>;
  /** Runs keyctl in the ring: an independent look at the kernel keyring. */
  keyctl(args: readonly string[]): ToolResult;
  stop(): Promise<void>;
}

const JOINED = /^Joined session keyring: \d+\n/m;

/**
 * A fresh, named session keyring that every keymint run of a test joins (`keyctl session NAME`),
 * kept alive by a holder process for as long as the test needs it. The holder lets processes of
 * the same user find the ring by name (setperm); it is stopped by PID.
 */
export async function startKeyutilsRing(): Promise<KeyutilsRing> {
  const name = `keymint-e2e-${randomBytes(6).toString('hex')}`;
  const holder = spawn(
    'keyctl',
    ['session', name, 'sh', '-c', 'keyctl setperm @s 0x3f3f0000 && echo ready && exec sleep 3600'],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await new Promise<void>((resolve, reject) => {
    holder.stdout?.on('data', (chunk: Buffer) => {
      if (chunk.toString('utf8').includes('ready')) resolve();
    });
    holder.once('exit', (code) => reject(new Error(`keyctl session exited with ${String(code)}`)));
  });
  return {
    async keymint(args, options) {
      const result = await runProgram('keyctl', ['session', name, process.execPath, BIN, ...args], {
        cwd: options.cwd,
        ...(options.env === undefined ? {} : { env: options.env }),
      });
      // keyctl says which ring it joined on stderr: not keymint's output.
      return { ...result, stderr: result.stderr.replace(JOINED, '') };
    },
    keyctl(args) {
      const result = toolStatus('keyctl', ['session', name, 'keyctl', ...args], { timeoutMs: 30_000 });
      return { ...result, stderr: result.stderr.replace(JOINED, '') };
    },
    stop: () => stopChild(holder),
  };
}
