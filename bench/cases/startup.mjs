// 1. CLI start-up: `keymint create` of an unencrypted EC key against `node -e 0` (the floor of any
// Node CLI) and the C tools that make the same key, then what each step of the bundling buys.
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keyPairOutputs, timeInterleaved } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = { id: 'startup', number: 1, short: 'start-up', title: 'CLI start-up' };

/**
 * The start-up steps, from tsc's output to what ships. bundleCli (apps/cli/build.mjs) takes only
 * `outdir` and `minify` now: the earlier layouts (code-split per backend, main.js with lazy
 * native chunks, lazy builtins as an option) are gone from the build, so their rows are too.
 */
const STEPS = [
  { id: 'unbundled', short: '1 unbundled', label: 'unbundled (tsc output, ~80 modules)' },
  { id: 'bundled', short: '2 bundled', label: 'bundled by bundleCli: a chunk per command and lazy part, builtins loaded on first use' },
  { id: 'shipped', short: '3 + minified (ships)', label: '+ whitespace and syntax minified (what ships)' },
];

export async function run(ctx) {
  const { dir, pub, priv, clean } = keyPairOutputs(ctx, 'startup');
  const create = ['create', '--kty', 'EC', '--no-password', '--insecure', pub, priv];
  const node = process.execPath;

  // Two floors that tell what 1.3x allows: the same work with no framework at all, and commander
  // alone (parsing `--version` in a bundle of its own, as keymint's bundle holds it).
  const { build } = await import(pathToFileURL(join(ctx.root, 'apps', 'cli', 'node_modules', 'esbuild', 'lib', 'main.js')).href);
  const commanderOnly = join(dir, 'commander-only.mjs');
  await build({
    stdin: { contents: `import { Command } from 'commander';\nconst program = new Command('x').version('1.0.0').exitOverride();\ntry { program.parse(process.argv); } catch {}\n`, resolveDir: join(ctx.root, 'apps', 'cli'), loader: 'js' },
    outfile: commanderOnly,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    minify: true,
    banner: { js: `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);` },
    logLevel: 'error',
  });

  // Peers, side by side.
  const runs = ctx.quick ? 10 : 40;
  ctx.log(`peers: ${runs} interleaved runs each`);
  const peers = timeInterleaved(
    {
      node: { cmd: node, args: ['-e', '0'] },
      keymint: { cmd: node, args: [ctx.bin, ...create], prepare: clean },
      help: { cmd: node, args: [ctx.bin, '--help'] },
      openssl: { cmd: 'openssl', args: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
      jose: { cmd: 'jose', args: ['jwk', 'gen', '-i', '{"alg":"ES256"}'] },
      minimal: { cmd: node, args: [join(ctx.benchDir, 'fixtures', 'minimal-create.mjs'), pub, priv], prepare: clean },
      commander: { cmd: node, args: [commanderOnly, '--version'] },
    },
    { runs, warmup: 3 },
  );
  const s = {
    node: series('node', 'node -e 0', 'ms', peers.node, { command: 'node -e 0' }),
    keymint: series('keymint', 'keymint create (EC P-256, unencrypted)', 'ms', peers.keymint, { command: 'keymint create --kty EC --no-password --insecure k.pub.json k.json' }),
    help: series('help', 'keymint --help', 'ms', peers.help, { command: 'keymint --help' }),
    openssl: series('openssl', 'openssl genpkey EC P-256', 'ms', peers.openssl, { command: 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256' }),
    jose: series('jose', 'jose jwk gen ES256 (C)', 'ms', peers.jose, { command: `jose jwk gen -i '{"alg":"ES256"}'` }),
    minimal: series('minimal', 'floor: the same work in a bare Node script', 'ms', peers.minimal, { command: 'node bench/fixtures/minimal-create.mjs k.pub.json k.json' }),
    commander: series('commander', 'floor: commander alone, bundled, parsing --version', 'ms', peers.commander),
  };

  // What each step buys: every variant built from the same sources into a temp dir.
  const variants = {};
  const { bundleCli } = await import(pathToFileURL(join(ctx.root, 'apps', 'cli', 'build.mjs')).href);
  for (const step of STEPS) {
    const out = join(dir, step.id);
    mkdirSync(out, { recursive: true });
    if (step.id === 'unbundled') {
      // tsc's bin.js is replaced by the bundle; this is it again, over tsc's program.js.
      writeFileSync(join(out, 'bin.js'), `import { run } from ${JSON.stringify(pathToFileURL(join(ctx.root, 'apps', 'cli', 'dist', 'program.js')).href)};\nawait run(process.argv);\n`);
      variants[step.id] = join(out, 'bin.js');
    } else if (step.id === 'shipped') {
      variants[step.id] = ctx.bin;
    } else {
      await bundleCli({ outdir: out, minify: false });
      // keymint finds its backends in the node_modules Node would search from the bundle: these
      // are the CLI's own, as for the shipped bundle.
      symlinkSync(join(ctx.root, 'apps', 'cli', 'node_modules'), join(out, 'node_modules'));
      variants[step.id] = join(out, 'bin.js');
    }
  }
  const stepRuns = ctx.quick ? 8 : 30;
  ctx.log(`steps: ${STEPS.length} builds × (create, --help), ${stepRuns} interleaved runs each`);
  const stepCommands = { node: { cmd: node, args: ['-e', '0'] } };
  for (const step of STEPS) {
    stepCommands[`${step.id}:create`] = { cmd: node, args: [variants[step.id], ...create], prepare: clean };
    stepCommands[`${step.id}:help`] = { cmd: node, args: [variants[step.id], '--help'] };
  }
  const steps = timeInterleaved(stepCommands, { runs: stepRuns, warmup: 2 });
  const stepNode = series('steps-node', 'node -e 0 (in the steps run)', 'ms', steps.node);
  const stepSeries = STEPS.flatMap((step) => [
    series(`${step.id}:create`, `${step.label}: create`, 'ms', steps[`${step.id}:create`]),
    series(`${step.id}:help`, `${step.label}: --help`, 'ms', steps[`${step.id}:help`]),
  ]);

  // No native library for --help and software keys (graphene/pkcs11js, the keychain binding).
  const natives = {};
  for (const [name, args] of [
    ['keymint --help', ['--help']],
    ['keymint create (software)', create],
  ]) {
    clean();
    const r = spawnSync(node, ['-r', join(ctx.benchDir, 'fixtures', 'record-dlopen.cjs'), ctx.bin, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    natives[name] = [...r.stderr.matchAll(/^keymint-bench-dlopen (.*)$/gm)].map((m) => m[1]);
  }
  const nativeNote = Object.entries(natives)
    .map(([name, libs]) => `${name}: ${libs.length === 0 ? 'no native library loaded' : `loaded ${libs.join(', ')}`}`)
    .join('; ');
  if (Object.values(natives).some((libs) => libs.length > 0)) throw new Error(`a native library was loaded: ${nativeNote}`);

  const goal = { op: '<=', value: 1.3 };
  const comparisons = [
    compare('keymint create ÷ node -e 0', s.keymint, s.node, goal),
    {
      ...compare('keymint create ÷ node -e 0, fastest runs', { median: s.keymint.stats.min, label: 'fastest keymint create', unit: 'ms' }, { median: s.node.stats.min, label: 'fastest node -e 0', unit: 'ms' }),
      note: 'min ÷ min: less sensitive to load from elsewhere',
      summary: false,
    },
    { ...compare('keymint --help ÷ node -e 0', s.help, s.node), summary: false },
    { ...compare('openssl genpkey ÷ node -e 0', s.openssl, s.node), summary: false },
    { ...compare('jose jwk gen ÷ node -e 0', s.jose, s.node), summary: false },
    { ...compare('keymint create ÷ openssl genpkey', s.keymint, s.openssl), summary: false },
    { ...compare('floor: same work, bare script ÷ node -e 0', s.minimal, s.node), summary: false },
    { ...compare('floor: commander alone ÷ node -e 0', s.commander, s.node), summary: false },
    ...STEPS.map((step) => ({
      ...compare(`step ${step.short}: create ÷ node -e 0`, stepSeries.find((x) => x.id === `${step.id}:create`), stepNode),
      summary: false,
    })),
  ];
  const stepTable = [
    '| step | create | ÷ node -e 0 | --help | ÷ node -e 0 |',
    '|---|---|---|---|---|',
    ...STEPS.map((step) => {
      const c = stepSeries.find((x) => x.id === `${step.id}:create`).stats.median;
      const h = stepSeries.find((x) => x.id === `${step.id}:help`).stats.median;
      return `| ${step.label} | ${c.toFixed(1)} ms | ${(c / stepNode.stats.median).toFixed(2)}× | ${h.toFixed(1)} ms | ${(h / stepNode.stats.median).toFixed(2)}× |`;
    }),
    `| node -e 0 | ${stepNode.stats.median.toFixed(1)} ms | 1.00× | | |`,
  ].join('\n');
  return {
    ...meta,
    description:
      'Wall time of one process, from spawn to exit, median of interleaved runs. `keymint` is the shipped bundle (`node apps/cli/dist/bin.js`). Goal: `keymint create` within 1.3× of `node -e 0`.',
    series: [s.node, s.keymint, s.help, s.openssl, s.jose, s.minimal, s.commander, stepNode, ...stepSeries],
    comparisons,
    stepTable,
    notes: [
      `Checked with a process.dlopen hook: ${nativeNote}.`,
      `What each start-up step buys (medians of ${stepRuns} interleaved runs, in one run so they compare):\n\n${stepTable}`,
    ],
  };
}
