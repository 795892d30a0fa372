import { readFileSync, readdirSync } from 'node:fs';
import { onTestFinished } from 'vitest';
import { BIN } from '../helpers.js';

/**
 * What the tests of stalled and racing keymint writers share: a way to catch a real keymint
 * process at a given moment of its write and stop it there (locks as keymint writes them come
 * from the test kit's lockFor).
 */

/** Longer than the 60 s after which keymint used to take a lock over and remove any temp file. */
export const STOPPED_MS = 66_000;

/** Continues a stopped process when the test ends, whatever happened. */
export function continueAtEnd(pid: number): void {
  onTestFinished(() => {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // gone already
    }
  });
}

/** Whether `pid` is a running keymint (the built CLI) whose command line holds `marker`. */
export function isKeymint(pid: number, marker: string): boolean {
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return args.includes(BIN) && args.some((arg) => arg.includes(marker));
  } catch {
    return false;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Watches for a keymint process (its command line holding `marker`) to reach a state, then stops it
 * with SIGSTOP, and checks that it is still in that state once stopped: then it is caught there for
 * as long as the test likes. `seen` looks at the directory and returns the pid of a keymint in the
 * state, or undefined. Returns the stopped pid, or undefined when the process got past the state
 * before the signal landed (it is then continued: the caller lets it finish and tries again), or
 * did not reach it within `withinMs`.
 */
export async function stopWhen(
  seen: () => number | undefined,
  marker: string,
  withinMs = 20_000,
): Promise<number | undefined> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    const pid = seen();
    if (pid === undefined || !isKeymint(pid, marker)) {
      await tick();
      continue;
    }
    process.kill(pid, 'SIGSTOP');
    if (seen() === pid) return pid;
    process.kill(pid, 'SIGCONT');
    return undefined;
  }
  return undefined;
}

/** The pid in the lock file at `path`, if there is one that keymint wrote. */
export function lockHolder(path: string): number | undefined {
  try {
    const pid = (JSON.parse(readFileSync(path, 'utf8')) as { pid?: unknown }).pid;
    return typeof pid === 'number' ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The pids of the writers whose temp files for `name` are in `dir`: `.<name>.keymint-<hex>.tmp`,
 * the hex being tag (8), pid (8) and random (12), or, as keymint wrote them before the tag, pid and
 * random.
 */
export function tempWriters(dir: string, name: string): Map<number, string[]> {
  const writers = new Map<number, string[]>();
  const prefix = `.${name}.keymint-`;
  for (const entry of readdirSync(dir)) {
    if (!entry.startsWith(prefix) || !entry.endsWith('.tmp')) continue;
    const hex = entry.slice(prefix.length, -'.tmp'.length);
    const pidHex = hex.length === 28 ? hex.slice(8, 16) : hex.length === 20 ? hex.slice(0, 8) : undefined;
    if (pidHex === undefined) continue;
    const pid = Number.parseInt(pidHex, 16);
    writers.set(pid, [...(writers.get(pid) ?? []), entry]);
  }
  return writers;
}
