#!/usr/bin/env node
// Runs the benchmark cases of issue 6 and writes bench/results/latest.json, latest.md and the
// plots, then the summary between the bench markers of the root README.
// `./scripts/bench.sh` installs the peers and builds keymint first; this expects both.
//   KEYMINT_BENCH_QUICK=1            fewer runs: a smoke test of the harness, rough figures
//   KEYMINT_BENCH_CASES=startup,rsa  only these cases (startup, password, rsa, batch, hsm, keyset)
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOFTHSM_MODULE } from '@keymint/test-kit/softhsm';
import { markdown, readmeSummary } from './lib/report.mjs';
import { ratioChart } from './lib/svg.mjs';

const benchDir = dirname(fileURLToPath(import.meta.url));
const root = dirname(benchDir);
const resultsDir = join(benchDir, 'results');
const CASES = ['startup', 'password', 'rsa', 'batch', 'hsm', 'keyset'];

const quick = process.env.KEYMINT_BENCH_QUICK === '1';
const only = (process.env.KEYMINT_BENCH_CASES ?? '')
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const c of only)
  if (!CASES.includes(c)) throw new Error(`KEYMINT_BENCH_CASES: unknown case "${c}" (cases: ${CASES.join(', ')})`);
const selected = only.length > 0 ? CASES.filter((c) => only.includes(c)) : CASES;

const bin = join(root, 'apps', 'cli', 'dist', 'bin.cjs');
if (!existsSync(bin)) throw new Error(`${bin} is missing: run ./scripts/bench.sh (or scripts/install.sh) first`);
for (const tool of ['openssl', 'jose', 'pkcs11-tool', 'softhsm2-util']) {
  if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0)
    throw new Error(`${tool} is missing: run ./scripts/bench.sh, which installs it`);
}
if (!existsSync(SOFTHSM_MODULE))
  throw new Error('libsofthsm2.so is missing: run ./scripts/bench.sh, which installs softhsm2');

// A partial run (some cases only, or quick mode) writes partial.* and leaves latest.* alone.
const name = only.length > 0 || quick ? 'partial' : 'latest';
const started = Date.now();
const tmp = mkdtempSync(join(tmpdir(), 'keymint-bench-'));
mkdirSync(resultsDir, { recursive: true });
/** dpkg-query's output format: the package's version. */
const DPKG_VERSION = ['-f=$', '{Version}'].join('');
const say = (text) => process.stderr.write(`bench: ${text}\n`);
const line = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
};
const loadBefore = loadavg().map((l) => Number(l.toFixed(2)));
say(
  `${quick ? 'quick mode, ' : ''}cases: ${selected.join(', ')}; temp dir ${tmp}; load average ${loadBefore.join(' ')}`,
);

const ctx = { root, benchDir, resultsDir, resultsName: name, bin, tmp, quick, log: say };
const results = [];
try {
  for (const id of selected) {
    const mod = await import(`./cases/${id}.mjs`);
    const t0 = Date.now();
    say(`case ${mod.meta.number}: ${mod.meta.title}`);
    ctx.log = (text) => say(`  ${mod.meta.short}: ${text}`);
    const result = await mod.run(ctx);
    result.seconds = (Date.now() - t0) / 1000;
    // A quick run has too few runs to judge a goal: its figures are printed, not met or missed.
    if (quick) for (const c of result.comparisons) if (c.goal !== undefined) c.goal.met = undefined;
    results.push(result);
    for (const c of result.comparisons.filter((x) => x.goal)) {
      say(
        `  ${c.label}: ${c.ratio.toFixed(2)}× (goal ${c.goal.op} ${c.goal.value}${c.goal.met === undefined ? '' : `: ${c.goal.met ? 'met' : 'missed'}`})`,
      );
    }
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

const result = {
  command: './scripts/bench.sh',
  quick,
  cases: results,
  finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  seconds: (Date.now() - started) / 1000,
  machine: {
    cpus: cpus().length,
    cpuModel: (cpus()[0]?.model ?? 'unknown').replace(/\s+/g, ' ').trim(),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: line('sh', ['-c', '. /etc/os-release && echo "$PRETTY_NAME"']) || process.platform,
    node: process.versions.node,
    nodeOpenssl: process.versions.openssl,
    openssl: line('openssl', ['version']),
    peers: Object.fromEntries(
      ['jose', 'opensc', 'softhsm2'].map((p) => [p, line('dpkg-query', ['-W', DPKG_VERSION, p])]),
    ),
    loadBefore,
    loadAfter: loadavg().map((l) => Number(l.toFixed(2))),
  },
  keymint: {
    commit: line('git', ['-C', root, 'rev-parse', '--short', 'HEAD']) || 'unknown',
    dirty: line('git', ['-C', root, 'status', '--porcelain']) !== '',
  },
};

const write = (file, text) => {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
};
const chartItems = results.flatMap((c) =>
  c.comparisons
    .filter((cmp) => Number.isFinite(cmp.ratio) && cmp.ratio > 0)
    .map((cmp) => ({ group: `${c.number}. ${c.title}`, label: cmp.label, ratio: cmp.ratio, goal: cmp.goal })),
);
write(join(resultsDir, `${name}.json`), `${JSON.stringify(result, null, 2)}\n`);
write(
  join(resultsDir, `${name}.svg`),
  ratioChart(chartItems, {
    title: 'keymint against its references: ratios of medians',
    subtitle: `${result.finishedAt.slice(0, 10)}, ${result.machine.cpus} × ${result.machine.cpuModel}, Node ${result.machine.node}${quick ? ', quick mode' : ''}`,
  }),
);
write(join(resultsDir, `${name}.md`), markdown(result).replace('(latest.svg)', `(${name}.svg)`));
if (name === 'latest') {
  const readme = join(root, 'README.md');
  const before = readFileSync(readme, 'utf8');
  const after = readmeSummary(before, result);
  if (after !== before) write(readme, after);
  // bench/README.md quotes the start-up steps of the last full run.
  const steps = results.find((c) => c.id === 'startup')?.stepTable;
  const benchReadme = join(benchDir, 'README.md');
  const text = readFileSync(benchReadme, 'utf8');
  const [open, close] = ['<!-- startup-steps -->', '<!-- /startup-steps -->'];
  if (steps !== undefined && text.includes(open) && text.includes(close)) {
    const body = `\nFrom the last full run (${result.finishedAt.slice(0, 10)}; \`keymint create --kty EC --no-password --insecure\` and \`keymint --help\`, medians of interleaved runs, each build made from the same sources by \`bundleCli\` of apps/cli/build.mjs):\n\n${steps}\n`;
    write(benchReadme, text.slice(0, text.indexOf(open) + open.length) + body + text.slice(text.indexOf(close)));
  }
}
if (name === 'latest') {
  // The tables written into the READMEs take the repository's Markdown formatting (CI checks it).
  const biome = spawnSync(
    join(root, 'node_modules', '.bin', 'biome'),
    ['format', '--write', 'README.md', 'bench/README.md'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (biome.status !== 0) throw new Error(`biome could not format the READMEs: ${biome.stderr || biome.error}`);
}
say(`done in ${(result.seconds / 60).toFixed(1)} min: bench/results/${name}.md, ${name}.json, ${name}.svg`);
