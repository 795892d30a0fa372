// Timing of whole commands. The machines are shared and noisy, so the commands of one case run
// interleaved (a, b, c, a, b, c ...): a burst of load from elsewhere hits all of them alike and
// their ratio stays meaningful even when the absolute times drift.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summary statistics of a list of samples (ms, or keys/s).
 * @param {number[]} samples
 * @returns {{ n: number, median: number, min: number, max: number, mean: number, p25: number, p75: number }}
 */
export function stats(samples) {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => {
    const i = (s.length - 1) * q;
    const lo = Math.floor(i);
    const hi = Math.ceil(i);
    return s[lo] + (s[hi] - s[lo]) * (i - lo);
  };
  return {
    n: s.length,
    median: at(0.5),
    min: s[0],
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / s.length,
    p25: at(0.25),
    p75: at(0.75),
  };
}

/**
 * The environment the measured commands get: ours, without what changes Node's own start-up for
 * reasons that are not keymint's. NODE_EXTRA_CA_CERTS makes every Node process parse a CA bundle
 * at start (here /etc/ssl/certs/ca-certificates.crt: +35 ms on 23 ms of `node -e 0`), NODE_OPTIONS
 * could add anything. turbo passes neither to the bench task; `node bench/run.mjs` run by hand
 * should measure the same.
 */
export const BENCH_ENV = Object.freeze(
  Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS' && name !== 'NODE_OPTIONS'),
  ),
);

/** The longest a timed command may run, and a worker (many timed operations in one process). */
const RUN_TIMEOUT_MS = 120_000;
const WORKER_TIMEOUT_MS = 20 * 60_000;

/**
 * Runs one command once and returns its wall time in ms. Output is discarded; a non-zero exit
 * is an error (a benchmark of a failing command measures nothing).
 * @param {{ cmd: string, args: string[], env?: Record<string,string>, cwd?: string, input?: string }} command
 */
export function timeOnce(command) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command.cmd, command.args, {
    cwd: command.cwd,
    env: { ...BENCH_ENV, ...command.env },
    input: command.input,
    stdio: [command.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    maxBuffer: 16 * 1024 * 1024,
    // A hung run fails the bench instead of stopping it for good (RSA 4096 keygen takes seconds, not minutes).
    timeout: RUN_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(
      `${command.cmd} ${command.args.join(' ')} exited with ${r.status ?? r.signal}: ${String(r.stderr).trim()}`,
    );
  }
  return ms;
}

/**
 * Times several commands interleaved: `warmup` rounds are thrown away, then `runs` rounds of
 * every command. `prepare` (if given) runs untimed before each timed run, e.g. to remove the
 * files the previous run wrote.
 * @template {string} K
 * @param {Record<K, { cmd: string, args: string[], env?: Record<string,string>, cwd?: string, prepare?: () => void }>} commands
 * @param {{ runs: number, warmup?: number, onProgress?: (done: number, total: number) => void }} options
 * @returns {Record<K, number[]>} wall times in ms per command
 */
export function timeInterleaved(commands, { runs, warmup = 2, onProgress }) {
  const names = /** @type {K[]} */ (Object.keys(commands));
  const samples = /** @type {Record<K, number[]>} */ (Object.fromEntries(names.map((n) => [n, []])));
  for (let round = -warmup; round < runs; round++) {
    // Rotate the order each round so no command always runs right after the same other one.
    const order = names.map((_, i) => names[(i + Math.max(round, 0)) % names.length]);
    for (const name of order) {
      const c = commands[name];
      c.prepare?.();
      const ms = timeOnce(c);
      if (round >= 0) samples[name].push(ms);
    }
    if (round >= 0) onProgress?.(round + 1, runs);
  }
  return samples;
}

/**
 * A case's own directory under the run's temp dir, with the two output files of `keymint create`
 * and `clean`, which removes them: the `prepare` of a timed create, so each run writes new files.
 * @param {{ tmp: string }} ctx
 * @param {string} name
 */
export function keyPairOutputs(ctx, name) {
  const dir = join(ctx.tmp, name);
  mkdirSync(dir, { recursive: true });
  const pub = join(dir, 'k.pub.json');
  const priv = join(dir, 'k.json');
  const clean = () => {
    rmSync(pub, { force: true });
    rmSync(priv, { force: true });
  };
  return { dir, pub, priv, clean };
}

/**
 * Runs a worker of bench/workers in a process of its own, and returns the JSON of the last line it
 * printed; its stderr is in the error when it fails.
 * @param {{ benchDir: string }} ctx
 * @param {string} name  the worker: `hsm` runs workers/hsm.mjs
 * @param {string[]} args
 * @param {Record<string, string>} env  the whole environment of the worker
 */
export function runWorker(ctx, name, args, env) {
  const r = spawnSync(process.execPath, [join(ctx.benchDir, 'workers', `${name}.mjs`), ...args], {
    cwd: ctx.benchDir,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    timeout: WORKER_TIMEOUT_MS,
    killSignal: 'SIGKILL',
  });
  if (r.error) throw new Error(`${name} worker ${args.join(' ')} failed: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${name} worker ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}
