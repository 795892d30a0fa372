#!/usr/bin/env node
// Builds what ships as `keymint`:
//   dist/bin.cjs        the launcher: compiles the bundle with V8's code cache and runs it
//   dist/keymint.cjs    the CLI, one CommonJS file (core, commander and every command in it)
//   dist/keymint.cache  V8's code cache of the bundle, made here by running it
// CommonJS, because Node's ES module loader alone costs a few ms before the first line of code;
// one file, because resolving and reading modules one by one was most of the start-up; a code
// cache, because compiling 250 KB of JavaScript is the rest. When the cache does not fit the Node
// that runs it (another version, other V8 flags), V8 rejects it and compiles the source as usual.
//
// Backends are not in the bundle: the CLI finds them at run time as installed packages
// (@keymint/backend-<name>, keymint-backend-<name>) and imports their manifests (src/backends.ts).
// Nothing here names a backend. bench/cases/startup.mjs builds the other layouts to measure each step.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(join(HERE, 'package.json'));

/** Builtins only some runs use: they load on first use (see lazyBuiltins). */
const LAZY_BUILTINS = ['child_process', 'readline', 'tty'];

/**
 * Builtins that most runs never use load on first use instead of at start-up: commander requires
 * node:child_process (and with it net, dgram and the stream machinery) for executable subcommands
 * keymint does not have, and the prompt imports node:readline and node:tty, which only a prompt
 * needs. Each becomes a module of stand-ins, one per function the builtin exports, that load the
 * real module when first called (or constructed).
 */
const lazyBuiltins = {
  name: 'keymint-lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${LAZY_BUILTINS.join('|')})$`) }, (args) =>
      args.namespace === 'keymint-lazy-builtin' ? { path: `node:${args.path.replace(/^node:/, '')}`, external: true } : { path: args.path.replace(/^node:/, ''), namespace: 'keymint-lazy-builtin' },
    );
    b.onLoad({ filter: /.*/, namespace: 'keymint-lazy-builtin' }, (args) => {
      const real = requireHere(`node:${args.path}`);
      const functions = Object.entries(Object.getOwnPropertyDescriptors(real))
        .filter(([name, d]) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default' && typeof d.value === 'function')
        .map(([name]) => name);
      return {
        loader: 'js',
        resolveDir: HERE,
        contents: [
          `import { createRequire } from 'node:module';`,
          `let real;`,
          `const load = () => (real ??= createRequire(__keymintUrl)('node:${args.path}'));`,
          ...functions.map((n) => `export function ${n}(...args) { const f = load().${n}; return new.target ? Reflect.construct(f, args) : f.apply(this, args); }`),
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
const { createRequire } = require('node:module');
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
script.runInThisContext()(module_.exports, createRequire(bundle), module_, bundle, __dirname);
`;

/** commands run while the cache is made, so that the functions they compile are in it. */
const WARM_UP = [['--help'], ['create', '--help'], ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'], ['thumbprint', 'k.pub.json']];

/**
 * Builds the CLI into `outdir`.
 * @param {{ outdir?: string, format?: 'cjs' | 'esm', codeCache?: boolean, minify?: boolean }} options
 *   format 'esm' with code splitting (a chunk per command) is the layout before this one, kept for
 *   bench/cases/startup.mjs; what ships is 'cjs' with the code cache.
 */
export async function bundleCli(options = {}) {
  const { outdir = join(HERE, 'dist'), format = 'cjs', codeCache = format === 'cjs', minify = true } = options;
  const { version } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  for (const name of ['chunks', 'bin.js', 'bin.cjs', 'keymint.cjs', 'keymint.cache']) await rm(join(outdir, name), { recursive: true, force: true });
  const common = {
    absWorkingDir: HERE,
    entryPoints: { [format === 'cjs' ? 'keymint' : 'bin']: 'src/bin.ts' },
    bundle: true,
    platform: 'node',
    target: 'node20',
    // Kept readable enough for a KEYMINT_DEBUG=1 stack trace: names stay, whitespace goes.
    minifyWhitespace: minify,
    minifySyntax: minify,
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
    plugins: [lazyBuiltins],
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
      banner: { js: `import { createRequire as __keymintRequire } from 'node:module'; const require = __keymintRequire(import.meta.url);` },
    });
  }
  const result = await build({
    ...common,
    outdir,
    outExtension: { '.js': '.cjs' },
    format: 'cjs',
    define: { KEYMINT_VERSION: JSON.stringify(version), 'import.meta.url': '__keymintUrl' },
    banner: { js: `var __keymintUrl = require('node:url').pathToFileURL(__filename).href;` },
  });
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
      const run = spawnSync(process.execPath, [join(outdir, 'bin.cjs'), ...args], { cwd: work, env: { ...process.env, KEYMINT_CODE_CACHE_OUT: out }, encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`keymint ${args.join(' ')} failed while making the code cache: ${run.stderr}`);
      writeFileSync(cache, readFileSync(out));
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bundleCli();
}
