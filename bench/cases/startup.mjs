// 1. CLI start-up: `keymint create` of an unencrypted EC key, `--help` and `--version` against
// `node -e 0` (the floor of any Node CLI), the same durable work in a bare CommonJS script (the floor
// of any Node CLI doing this work) and the C tools that make the same key; each measured without and
// with NODE_EXTRA_CA_CERTS, which many machines set and which Node reads at every start. Then what
// each step of the build buys.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { keyPairOutputs, timeInterleaved } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = { id: 'startup', number: 1, short: 'start-up', title: 'CLI start-up' };

/** The CA bundle Debian's ca-certificates installs: what NODE_EXTRA_CA_CERTS usually names. */
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/** The build steps, each made by bundleCli (apps/cli/build.mjs) from the same sources. */
const STEPS = [
  {
    id: 'esm',
    short: '1 ESM, code-split',
    label: 'ES modules, split: a chunk per command and lazy part',
    options: { format: 'esm', minify: true },
  },
  {
    id: 'cjs',
    short: '2 one CommonJS file',
    label: 'one CommonJS file, software backend built in, sshpk apart',
    options: { format: 'cjs', codeCache: false, minify: true },
  },
  { id: 'shipped', short: '3 + V8 code cache (ships)', label: '+ V8 code cache made at build time (what ships)' },
];

export async function run(ctx) {
  const { dir, pub, priv, clean } = keyPairOutputs(ctx, 'startup');
  const create = ['create', '--kty', 'EC', '--no-password', '--insecure', pub, priv];
  const node = process.execPath;
  const floorScript = join(ctx.benchDir, 'fixtures', 'minimal-create.cjs');
  const withCa = existsSync(CA_BUNDLE) ? { NODE_EXTRA_CA_CERTS: CA_BUNDLE } : undefined;

  // Peers, side by side: every command without the CA variable, and the Node ones with it.
  const runs = ctx.quick ? 10 : 40;
  const commands = {
    node: { cmd: node, args: ['-e', '0'] },
    floor: { cmd: node, args: [floorScript, pub, priv], prepare: clean },
    floorPool: { cmd: node, args: [floorScript, '--pool', pub, priv], prepare: clean },
    keymint: { cmd: node, args: [ctx.bin, ...create], prepare: clean },
    help: { cmd: node, args: [ctx.bin, '--help'] },
    version: { cmd: node, args: [ctx.bin, '--version'] },
    openssl: { cmd: 'openssl', args: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
    jose: { cmd: 'jose', args: ['jwk', 'gen', '-i', '{"alg":"ES256"}'] },
  };
  if (withCa !== undefined) {
    for (const name of ['node', 'floor', 'keymint', 'help'])
      commands[`${name}+ca`] = { ...commands[name], env: withCa };
  }
  ctx.log(
    `peers: ${runs} interleaved runs each${withCa === undefined ? ` (no ${CA_BUNDLE}: rows with NODE_EXTRA_CA_CERTS left out)` : ''}`,
  );
  const t = timeInterleaved(commands, { runs, warmup: 3 });
  const CA = ` (NODE_EXTRA_CA_CERTS=${CA_BUNDLE})`;
  const s = {
    node: series('node', 'node -e 0', 'ms', t.node, { command: 'node -e 0' }),
    floor: series('floor', 'floor: the same durable work in a bare CommonJS script', 'ms', t.floor, {
      command: 'node bench/fixtures/minimal-create.cjs k.pub.json k.json',
    }),
    floorPool: series('floor-pool', 'floor, the key made in the thread pool', 'ms', t.floorPool, {
      command: 'node bench/fixtures/minimal-create.cjs --pool k.pub.json k.json',
    }),
    keymint: series('keymint', 'keymint create (EC P-256, unencrypted)', 'ms', t.keymint, {
      command: 'keymint create --kty EC --no-password --insecure k.pub.json k.json',
    }),
    help: series('help', 'keymint --help', 'ms', t.help, { command: 'keymint --help' }),
    version: series('version', 'keymint --version', 'ms', t.version, { command: 'keymint --version' }),
    openssl: series('openssl', 'openssl genpkey EC P-256', 'ms', t.openssl, {
      command: 'openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256',
    }),
    jose: series('jose', 'jose jwk gen ES256 (C)', 'ms', t.jose, { command: `jose jwk gen -i '{"alg":"ES256"}'` }),
  };
  const ca =
    withCa === undefined
      ? undefined
      : {
          node: series('node+ca', `node -e 0${CA}`, 'ms', t['node+ca']),
          floor: series('floor+ca', `floor${CA}`, 'ms', t['floor+ca']),
          keymint: series('keymint+ca', `keymint create${CA}`, 'ms', t['keymint+ca']),
          help: series('help+ca', `keymint --help${CA}`, 'ms', t['help+ca']),
        };

  // What each step buys: every variant built from the same sources into a temp dir.
  const variants = {};
  const { bundleCli } = await import(pathToFileURL(join(ctx.root, 'apps', 'cli', 'build.mjs')).href);
  for (const step of STEPS) {
    if (step.options === undefined) {
      variants[step.id] = ctx.bin;
      continue;
    }
    const out = join(dir, step.id);
    mkdirSync(out, { recursive: true });
    await bundleCli({ outdir: out, ...step.options });
    // keymint finds its other backends in the node_modules Node would search from the bundle:
    // these are the CLI's own, as for the shipped bundle.
    symlinkSync(join(ctx.root, 'apps', 'cli', 'node_modules'), join(out, 'node_modules'));
    variants[step.id] = join(out, step.options.format === 'esm' ? 'bin.js' : 'bin.cjs');
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
    const r = spawnSync(node, ['-r', join(ctx.benchDir, 'fixtures', 'record-dlopen.cjs'), ctx.bin, ...args], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${name} failed: ${r.stderr}`);
    natives[name] = [...r.stderr.matchAll(/^keymint-bench-dlopen (.*)$/gm)].map((m) => m[1]);
  }
  const nativeNote = Object.entries(natives)
    .map(([name, libs]) => `${name}: ${libs.length === 0 ? 'no native library loaded' : `loaded ${libs.join(', ')}`}`)
    .join('; ');
  if (Object.values(natives).some((libs) => libs.length > 0))
    throw new Error(`a native library was loaded: ${nativeNote}`);

  const comparisons = [
    compare('keymint create ÷ floor (durable CommonJS script)', s.keymint, s.floor, { op: '<=', value: 1.25 }),
    ...(ca === undefined
      ? []
      : [
          compare('keymint create ÷ node -e 0, with NODE_EXTRA_CA_CERTS', ca.keymint, ca.node, {
            op: '<=',
            value: 1.3,
          }),
        ]),
    compare('keymint --help ÷ floor', s.help, s.floor, { op: '<=', value: 1.2 }),
    compare('keymint --version ÷ floor', s.version, s.floor, { op: '<=', value: 1.2 }),
    {
      ...compare('keymint create ÷ floor with the thread-pool keygen', s.keymint, s.floorPool),
      note: 'what the thread pool costs a one-shot process (see fixtures/minimal-create.cjs)',
      summary: false,
    },
    { ...compare('keymint create ÷ node -e 0', s.keymint, s.node), summary: false },
    { ...compare('floor ÷ node -e 0', s.floor, s.node), summary: false },
    ...(ca === undefined
      ? []
      : [
          { ...compare('keymint create ÷ floor, with NODE_EXTRA_CA_CERTS', ca.keymint, ca.floor), summary: false },
          { ...compare('floor ÷ node -e 0, with NODE_EXTRA_CA_CERTS', ca.floor, ca.node), summary: false },
          { ...compare('keymint --help ÷ node -e 0, with NODE_EXTRA_CA_CERTS', ca.help, ca.node), summary: false },
        ]),
    {
      ...compare(
        'keymint create ÷ floor, fastest runs',
        { median: s.keymint.stats.min, label: 'fastest keymint create', unit: 'ms' },
        { median: s.floor.stats.min, label: 'fastest floor', unit: 'ms' },
      ),
      note: 'min ÷ min: less sensitive to load from elsewhere',
      summary: false,
    },
    { ...compare('openssl genpkey ÷ node -e 0', s.openssl, s.node), summary: false },
    { ...compare('jose jwk gen ÷ node -e 0', s.jose, s.node), summary: false },
    { ...compare('keymint create ÷ openssl genpkey', s.keymint, s.openssl), summary: false },
    ...STEPS.map((step) => ({
      ...compare(
        `step ${step.short}: create ÷ node -e 0`,
        stepSeries.find((x) => x.id === `${step.id}:create`),
        stepNode,
      ),
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
      'Wall time of one process, from spawn to exit, median of interleaved runs. `keymint` is the shipped CLI (`node apps/cli/dist/bin.cjs`). The floor does what `keymint create` does, as durably (keygen, RFC 7638 thumbprint, two files written to temp files, fsynced and renamed, the directory fsynced), in a bare CommonJS script with synchronous calls; a second row makes the key in the thread pool, to show what starting it costs a one-shot process. Goals: `create` ≤ 1.25× the floor and ≤ 1.3× `node -e 0` with NODE_EXTRA_CA_CERTS set; `--help` and `--version` ≤ 1.2× the floor.',
    series: [
      s.node,
      s.floor,
      s.floorPool,
      s.keymint,
      s.help,
      s.version,
      s.openssl,
      s.jose,
      ...(ca === undefined ? [] : Object.values(ca)),
      stepNode,
      ...stepSeries,
    ],
    comparisons,
    stepTable,
    notes: [
      `Checked with a process.dlopen hook: ${nativeNote}.`,
      `What each start-up step buys (medians of ${stepRuns} interleaved runs, in one run so they compare):\n\n${stepTable}`,
    ],
  };
}
