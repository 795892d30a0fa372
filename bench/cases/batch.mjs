// 4. Batch through the programmatic API: N keys made with createKey and the software backend and
// written as one JWK Set, all at once (Promise.all: Node's async keygen runs on the libuv thread
// pool) against one after another.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { BENCH_ENV, runWorker } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = {
  id: 'batch',
  number: 4,
  short: 'batch API',
  title: 'Batch key creation through the API: concurrent vs sequential',
};

const KINDS = [
  { id: 'ec', label: 'EC P-256', count: 1000, quick: 200 },
  { id: 'ed25519', label: 'Ed25519', count: 1000, quick: 200 },
  // An RSA key takes from 0.05 s to 0.6 s with the random prime search: a batch needs many keys for
  // its rate to be stable (the spread of a sum of N keygen times shrinks as 1/√N), so fewer repetitions.
  { id: 'rsa2048', label: 'RSA 2048', count: 96, quick: 8, reps: 3 },
];

/** Runs the worker once; returns keys per second and the CPU time it used (all threads). */
function measure(ctx, kind, count, mode, what, env = {}) {
  const { ms, keys, cpuMs } = runWorker(
    ctx,
    'batch',
    [kind, String(count), mode, what, join(ctx.tmp, `batch-${kind}.json`)],
    { ...BENCH_ENV, ...env },
  );
  return { rate: keys / (ms / 1000), cores: cpuMs / ms };
}

export async function run(ctx) {
  const poolSize = process.env.UV_THREADPOOL_SIZE ?? '4 (default)';
  const out = { series: [], comparisons: [], notes: [] };
  const coresUsed = [];
  const rawCores = [];
  const load = [];
  for (const kind of KINDS) {
    const count = ctx.quick ? kind.quick : kind.count;
    const reps = ctx.quick ? 2 : (kind.reps ?? 5);
    ctx.log(`${kind.label}: ${count} keys × ${reps} repetitions of each mode`);
    const modes = {
      sequential: ['sequential', 'api'],
      concurrent: ['concurrent', 'api'],
      'concurrent-pool2': ['concurrent', 'api', { UV_THREADPOOL_SIZE: '2' }],
      'raw-sequential': ['sequential', 'raw'],
      'raw-concurrent': ['concurrent', 'raw'],
    };
    const rates = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
    const cores = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
    for (let rep = 0; rep < reps; rep++) {
      load.push(loadavg()[0]);
      for (const [name, [mode, what, env]] of Object.entries(modes)) {
        const m = measure(ctx, kind.id, count, mode, what, env);
        rates[name].push(m.rate);
        cores[name].push(m.cores);
      }
    }
    const s = {
      sequential: series(
        `${kind.id}-sequential`,
        `${kind.label}: createKey one after another`,
        'keys/s',
        rates.sequential,
      ),
      concurrent: series(
        `${kind.id}-concurrent`,
        `${kind.label}: createKey all at once (Promise.all)`,
        'keys/s',
        rates.concurrent,
      ),
      pool2: series(
        `${kind.id}-concurrent-pool2`,
        `${kind.label}: all at once, UV_THREADPOOL_SIZE=2`,
        'keys/s',
        rates['concurrent-pool2'],
      ),
      rawSeq: series(
        `${kind.id}-raw-sequential`,
        `${kind.label}: crypto.generateKeyPair alone, one after another`,
        'keys/s',
        rates['raw-sequential'],
      ),
      rawCon: series(
        `${kind.id}-raw-concurrent`,
        `${kind.label}: crypto.generateKeyPair alone, all at once`,
        'keys/s',
        rates['raw-concurrent'],
      ),
    };
    out.series.push(...Object.values(s));
    out.comparisons.push(
      compare(`${kind.label}: concurrent ÷ sequential (${count} keys)`, s.concurrent, s.sequential, {
        op: '>=',
        value: 1.8,
        text: '2 cores',
      }),
      {
        ...compare(`${kind.label}: generateKeyPair alone, concurrent ÷ sequential`, s.rawCon, s.rawSeq),
        summary: false,
      },
      { ...compare(`${kind.label}: concurrent with a pool of 2 ÷ sequential`, s.pool2, s.sequential), summary: false },
      {
        ...compare(`${kind.label}: createKey ÷ generateKeyPair alone, one after another`, s.sequential, s.rawSeq),
        summary: false,
      },
    );
    const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
    rawCores.push(med(cores['raw-concurrent']));
    coresUsed.push(
      `${kind.label}: sequential ${med(cores.sequential).toFixed(2)}, concurrent ${med(cores.concurrent).toFixed(2)} (generateKeyPair alone: ${med(cores['raw-sequential']).toFixed(2)} and ${med(cores['raw-concurrent']).toFixed(2)})`,
    );
  }
  out.notes.push(
    `What the gain depends on: a batch can only go 2× faster if each key's work runs on the thread pool. "createKey ÷ generateKeyPair alone" tells how much of a key's time is keygen; the rest (parameters, JWK export, two thumbprints, each a thread-pool round trip, the JWK Set) runs on the one main thread and does not scale. And the machine must have the second core free: generateKeyPair alone, all at once, kept ${Math.max(...rawCores).toFixed(2)} cores busy at best in this run.`,
    `CPU time ÷ wall time of the timed part, all threads (how many cores the batch kept busy; 2 is all of them): ${coresUsed.join('; ')}.`,
    `Thread pool: UV_THREADPOOL_SIZE ${poolSize}; ${cpus().length} cores; 1-minute load average while this case ran: ${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)} (other work on the machine takes cores from the concurrent runs).`,
  );
  return {
    ...meta,
    description: `Keys per second, median of the repetitions (5; 3 of 96 keys for RSA), each in a fresh process; the timed part makes the keys and writes them as one JWK Set. Rows "generateKeyPair alone" time Node's keygen with nothing around it: the most the thread pool can give. Goal: concurrent ≥ 1.8× sequential on 2 cores.`,
    ...out,
  };
}
