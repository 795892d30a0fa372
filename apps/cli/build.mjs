#!/usr/bin/env node
// Builds what ships as `keymint`:
//   dist/bin.cjs        the launcher: compiles the bundle with V8's code cache and runs it
//   dist/keymint.cjs    the CLI, one CommonJS file (core, commander and every command in it)
//   dist/keymint.cache  V8's code cache of the bundle, made here by running it
//   dist/sshpk.cjs      sshpk, for OpenSSH keys only: required on first use
//   dist/THIRD-PARTY-LICENSES.txt  the licences of the packages bundled in them
// CommonJS, because Node's ES module loader alone costs a few ms before the first line of code;
// one file, because resolving and reading modules one by one was most of the start-up; a code
// cache, because compiling 250 KB of JavaScript is the rest. When the cache does not fit the Node
// that runs it (another version, other V8 flags), V8 rejects it and compiles the source as usual.
//
// Backends are found at run time as installed packages (@keymint/backend-<name>,
// keymint-backend-<name>) by their manifests (src/backends.ts), with one exception: the backends
// the CLI depends on (package.json "dependencies", not the optional ones) are built into the
// bundle, so that the backend of most runs shares the bundle's code cache and its copy of
// @keymint/core instead of loading a second one through Node's ES module loader. Nothing here
// names a backend. bench/cases/startup.mjs builds the other layouts to measure each step.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(join(HERE, 'package.json'));

/** Builtins only some runs use: they load on first use (see lazyBuiltins). */
const LAZY_BUILTINS = ['child_process', 'crypto', 'fs/promises', 'module', 'os', 'readline', 'tty'];

/**
 * Builtins that many runs never use load on first use instead of at start-up: node:crypto (about
 * 3 ms) is needed by keys, not by `--help` or `--version`; commander requires node:child_process
 * (and with it net, dgram and the stream machinery) for executable subcommands keymint does not
 * have; the prompt imports node:readline and node:tty, which only a prompt needs;
 * node:fs/promises, node:module and node:os serve a few commands. Each becomes a module of
 * stand-ins that load the real builtin when first used: a function for each function it exports
 * (called, constructed or used with instanceof, it acts as the real one), and a view of each
 * object (crypto.constants) whose members are read from the real one. An export of another kind
 * has no stand-in: importing it by name fails the build. A stand-in has none of the real
 * function's own symbols, so util.promisify of it would not know that crypto.generateKeyPair calls
 * back with two keys: keymint's code does not promisify builtins.
 */
const lazyBuiltins = {
  name: 'keymint-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`) }, (args) =>
      args.namespace === 'keymint-lazy-builtin'
        ? { path: `node:${args.path.replace(/^node:/, '')}`, external: true }
        : { path: args.path.replace(/^node:/, ''), namespace: 'keymint-lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'keymint-lazy-builtin' }, (args) => {
      const real = requireHere(`node:${args.path}`);
      const exported = (kind) =>
        Object.entries(Object.getOwnPropertyDescriptors(real))
          .filter(([name, d]) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default' && d.enumerable)
          .filter(([name]) => typeof real[name] === kind && real[name] !== null)
          .map(([name]) => name);
      return {
        loader: 'js',
        resolveDir: HERE,
        contents: [
          `let real;`,
          `const load = () => (real ??= require('node:${args.path}'));`,
          `const fn = (name) => {`,
          `  function lazy(...args) { const f = load()[name]; return new.target ? Reflect.construct(f, args) : f.apply(this, args); }`,
          `  return Object.defineProperty(lazy, Symbol.hasInstance, { value: (value) => value instanceof load()[name] });`,
          `};`,
          `const view = (name) => new Proxy({}, {`,
          `  get: (_, key) => { const o = load()[name]; const v = o[key]; return typeof v === 'function' ? v.bind(o) : v; },`,
          `  has: (_, key) => key in load()[name],`,
          `  ownKeys: () => Reflect.ownKeys(load()[name]),`,
          `  getOwnPropertyDescriptor: (_, key) => { const d = Reflect.getOwnPropertyDescriptor(load()[name], key); return d && { ...d, configurable: true }; },`,
          `});`,
          ...exported('function').map((n) => `export const ${n} = fn('${n}');`),
          ...exported('object').map((n) => `export const ${n} = view('${n}');`),
        ].join('\n'),
      };
    });
  },
};

/**
 * Sizeable packages that few runs use, each built into a file of its own beside the bundle and
 * required on first use (their imports are dynamic already): sshpk and its dependencies, for
 * OpenSSH keys only, would be half of keymint.cjs, read at every start.
 */
const SEPARATE_PACKAGES = ['sshpk'];

const separatePackages = {
  name: 'keymint-separate-packages',
  setup(b) {
    // A stand-in module requires the file: the bundle's dynamic import() of it becomes a require(),
    // which works where the bundle runs (a vm.Script has no loader for import()).
    b.onResolve({ filter: new RegExp(`^(${SEPARATE_PACKAGES.join('|')})$`) }, (args) => ({
      path: args.path,
      namespace: 'keymint-separate',
    }));
    b.onResolve({ filter: /^\.\/.+\.cjs$/, namespace: 'keymint-separate' }, (args) => ({
      path: args.path,
      external: true,
    }));
    b.onLoad({ filter: /.*/, namespace: 'keymint-separate' }, (args) => ({
      loader: 'js',
      contents: `module.exports = require('./${args.path}.cjs');`,
    }));
  },
};

/** Builds each of SEPARATE_PACKAGES into `outdir`, resolved as the package that imports it resolves it. */
async function buildSeparatePackages(outdir, minify) {
  const requireCore = createRequire(requireHere.resolve('@keymint/core'));
  const results = [];
  for (const name of SEPARATE_PACKAGES) {
    const result = await build({
      absWorkingDir: HERE,
      entryPoints: { [name]: requireCore.resolve(name) },
      outdir,
      outExtension: { '.js': '.cjs' },
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      minifyWhitespace: minify,
      minifySyntax: minify,
      legalComments: 'eof',
      metafile: true,
      logLevel: 'warning',
    });
    results.push(result);
  }
  return results;
}

/**
 * The licence of every third-party package in the bundle, in one file beside it (their licences ask
 * that their notices go with copies): each package's name, version, licence and its licence file.
 */
function writeThirdPartyLicenses(outdir, metafiles) {
  const roots = new Set();
  for (const metafile of metafiles) {
    for (const input of Object.keys(metafile.inputs)) {
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
      if (match !== null) roots.add(join(HERE, match[1]));
    }
  }
  const sections = [...roots].map((root) => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    const file = readdirSync(root).find((f) => /^licen[cs]e(\.(md|txt))?$/i.test(f));
    const text =
      file === undefined
        ? `(no licence file; package.json says ${pkg.license})`
        : readFileSync(join(root, file), 'utf8').trim();
    return { id: `${pkg.name}@${pkg.version}`, text: `${pkg.name} ${pkg.version} (${pkg.license})\n\n${text}\n` };
  });
  sections.sort((a, b) => a.id.localeCompare(b.id));
  const unique = sections.filter((s, i) => i === 0 || sections[i - 1].id !== s.id);
  const header = 'keymint bundles the following packages. Their licences and notices follow.\n';
  writeFileSync(
    join(outdir, 'THIRD-PARTY-LICENSES.txt'),
    [header, ...unique.map((s) => s.text)].join(`\n${'-'.repeat(78)}\n\n`),
  );
}

/** Backend packages by their names (src/backends.ts has the convention). */
const BACKEND_PACKAGE = /^(@keymint\/backend-|keymint-backend-)[a-z0-9][a-z0-9-]*$/;

/**
 * The bundle's entry: first the backends the CLI depends on, handed to src/backends.ts with their
 * manifests (whose load() esbuild bundles too), then the CLI. ES modules run in import order, so
 * they are known before the CLI's first line runs.
 */
const builtInBackends = {
  name: 'keymint-built-in-backends',
  setup(b) {
    b.onResolve({ filter: /^keymint:(entry|built-in-backends)$/ }, (args) => ({
      path: args.path,
      namespace: 'keymint',
    }));
    b.onLoad({ filter: /.*/, namespace: 'keymint' }, (args) => {
      if (args.path === 'keymint:entry')
        return {
          loader: 'js',
          resolveDir: HERE,
          contents: `import 'keymint:built-in-backends';\nimport './src/bin.ts';\n`,
        };
      const { dependencies = {} } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
      const names = Object.keys(dependencies).filter((n) => BACKEND_PACKAGE.test(n));
      return {
        loader: 'js',
        resolveDir: HERE,
        contents: [
          `import { addBuiltInBackend } from './src/backends.ts';`,
          ...names.map((n, i) => `import manifest${i} from '${n}/manifest';\naddBuiltInBackend('${n}', manifest${i});`),
        ].join('\n'),
      };
    });
  },
};

/** The launcher: bin.cjs compiles keymint.cjs with its code cache, and runs it as Node runs a CommonJS module. */
const LAUNCHER = `#!/usr/bin/env node
'use strict';
// keymint's launcher: see apps/cli/build.mjs.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const vm = require('node:vm');
const bundle = join(__dirname, 'keymint.cjs');
let cachedData;
try {
  cachedData = readFileSync(join(__dirname, 'keymint.cache'));
} catch {
  // No cache: V8 compiles the source, as it would without one.
}
const script = new vm.Script('(function (exports, require, module, __filename, __dirname) {' + readFileSync(bundle, 'utf8') + '\\n})', {
  filename: bundle,
  cachedData,
});
if (process.env.KEYMINT_DEBUG === '1') process.stderr.write('keymint: code cache ' + (cachedData === undefined ? 'missing' : script.cachedDataRejected ? 'rejected' : 'used') + '\\n');
const out = process.env.KEYMINT_CODE_CACHE_OUT;
if (out) process.once('exit', () => writeFileSync(out, script.createCachedData()));
const module_ = { exports: {} };
// This file's own require: it resolves from the bundle's directory, as the bundle's would.
script.runInThisContext()(module_.exports, require, module_, bundle, __dirname);
`;

/** commands run while the cache is made, so that the functions they compile are in it. */
const WARM_UP = [
  ['--help'],
  ['create', '--help'],
  ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
  ['thumbprint', 'k.pub.json'],
];

/**
 * Builds the CLI into `outdir`.
 * @param {{ outdir?: string, format?: 'cjs' | 'esm', codeCache?: boolean, minify?: boolean }} options
 *   format 'esm' with code splitting (a chunk per command) is the layout before this one, kept for
 *   bench/cases/startup.mjs; what ships is 'cjs' with the code cache.
 */
export async function bundleCli(options = {}) {
  const { outdir = join(HERE, 'dist'), format = 'cjs', codeCache = format === 'cjs', minify = true } = options;
  const { version } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  for (const name of [
    'chunks',
    'bin.js',
    'bin.cjs',
    'keymint.cjs',
    'keymint.cache',
    'THIRD-PARTY-LICENSES.txt',
    ...SEPARATE_PACKAGES.map((n) => `${n}.cjs`),
  ])
    await rm(join(outdir, name), { recursive: true, force: true });
  const common = {
    absWorkingDir: HERE,
    entryPoints: { [format === 'cjs' ? 'keymint' : 'bin']: 'keymint:entry' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Kept readable enough for a KEYMINT_DEBUG=1 stack trace: names stay, whitespace goes.
    minifyWhitespace: minify,
    minifySyntax: minify,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
    plugins: [lazyBuiltins, builtInBackends],
  };
  if (format === 'esm') {
    return build({
      ...common,
      outdir,
      format: 'esm',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      define: { KEYMINT_VERSION: JSON.stringify(version), __keymintUrl: 'import.meta.url' },
      // Bundled CommonJS (commander, sshpk) calls require(): give every file one.
      banner: {
        js: `import { createRequire as __keymintRequire } from 'node:module'; const require = __keymintRequire(import.meta.url);`,
      },
    });
  }
  const result = await build({
    ...common,
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    define: { KEYMINT_VERSION: JSON.stringify(version), 'import.meta.url': '__keymintUrl' },
    banner: { js: `var __keymintUrl = require('node:url').pathToFileURL(__filename).href;` },
    plugins: [...common.plugins, separatePackages],
  });
  const separate = await buildSeparatePackages(outdir, minify);
  writeThirdPartyLicenses(outdir, [result.metafile, ...separate.map((r) => r.metafile)]);
  writeFileSync(join(outdir, 'bin.cjs'), LAUNCHER, { mode: 0o755 });
  if (codeCache) makeCodeCache(outdir);
  return result;
}

/** Runs the built CLI on the common paths, each run adding what it compiled to the cache. */
function makeCodeCache(outdir) {
  const work = mkdtempSync(join(tmpdir(), 'keymint-code-cache-'));
  const cache = join(outdir, 'keymint.cache');
  try {
    for (const args of WARM_UP) {
      const out = join(work, 'cache');
      const run = spawnSync(process.execPath, [join(outdir, 'bin.cjs'), ...args], {
        cwd: work,
        env: { ...process.env, KEYMINT_CODE_CACHE_OUT: out },
        encoding: 'utf8',
      });
      if (run.status !== 0)
        throw new Error(`keymint ${args.join(' ')} failed while making the code cache: ${run.stderr}`);
      writeFileSync(cache, readFileSync(out));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bundleCli();
}
