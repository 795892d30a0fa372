#!/usr/bin/env node
// Bundles the keymint CLI with esbuild into dist/bin.js, the file that ships as `keymint` (the
// package's bin and the root ./keymint shim). tsc runs first (`pnpm run build`): it type-checks and
// writes dist/index.js with its .d.ts for the programmatic API; this then replaces tsc's
// dist/bin.js with the bundle.
//
// What ships (layout 'main'):
//   dist/bin.js            the entry: imports main.js and runs the command line
//   dist/main.js           commander, the program, every software command, core, jose and the
//                          software backend: one file, so a command loads 2 files, not 17
//   dist/chunks/*.js       what only some runs need, each loaded by its dynamic import: the PKCS#11
//                          and keychain backends and commands (and, through them only, their native
//                          libraries), sshpk (OpenSSH keys). They take core and the CLI's shared
//                          modules from main.js, so there is one KeymintError class, not two.
// Unbundled, `keymint create` loads ~80 modules one by one, each resolved, read and compiled on
// its own: that, not our code, was most of its start-up. bench/README.md has what each step buys.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const SRC = join(HERE, 'src');
const requireHere = createRequire(join(HERE, 'package.json'));

/**
 * Native packages the backends import lazily. They stay outside the bundle, and are resolved
 * from the backend package that depends on them (see nativeFromBackend).
 */
export const NATIVE_PACKAGES = {
  'graphene-pk11': '@keymint/backend-pkcs11',
  '@napi-rs/keyring': '@keymint/backend-keychain',
};

/**
 * The lazy parts of layout 'main': each one's import specifier, as the code that loads it writes
 * it, and the chunk it becomes.
 */
const LAZY_PARTS = [
  { specifier: './commands/pkcs11.js', entry: 'src/commands/pkcs11.ts', chunk: 'commands-pkcs11' },
  { specifier: './commands/keychain.js', entry: 'src/commands/keychain.ts', chunk: 'commands-keychain' },
  { specifier: '@keymint/backend-pkcs11', entry: '@keymint/backend-pkcs11', chunk: 'backend-pkcs11' },
  { specifier: '@keymint/backend-keychain', entry: '@keymint/backend-keychain', chunk: 'backend-keychain' },
  // core's, for OpenSSH keys; @keymint/cli does not depend on it itself.
  { specifier: 'sshpk', entry: () => createRequire(requireHere.resolve('@keymint/core')).resolve('sshpk'), chunk: 'sshpk' },
];

/**
 * What the lazy parts share with main.js: main.js exports each as a namespace, and the lazy parts
 * import them from there. tsc's output (or the package's dist) gives each one's export names.
 */
const SHARED = [
  { specifier: '@keymint/core', name: 'core', exportsOf: () => requireHere.resolve('@keymint/core') },
  { specifier: '@keymint/backend-software', name: 'backendSoftware', exportsOf: () => requireHere.resolve('@keymint/backend-software') },
  { file: join(SRC, 'prompt.ts'), name: 'prompt', exportsOf: () => join(HERE, 'dist', 'prompt.js') },
  { file: join(SRC, 'output.ts'), name: 'output', exportsOf: () => join(HERE, 'dist', 'output.js') },
  { file: join(SRC, 'backends', 'pkcs11.ts'), name: 'backendsPkcs11', exportsOf: () => join(HERE, 'dist', 'backends', 'pkcs11.js') },
  { file: join(SRC, 'backends', 'keychain.ts'), name: 'backendsKeychain', exportsOf: () => join(HERE, 'dist', 'backends', 'keychain.js') },
];

/** Builtins only some runs use: they load on first use (see lazyBuiltins). */
const LAZY_BUILTINS = ['child_process', 'readline', 'tty'];

/** The bundle the benchmark compares with the other steps; the defaults are what ships. */
export const SHIPPED = Object.freeze({ layout: 'main', sideEffectFreeCore: true, lazyBuiltins: true, minify: true });

const BANNER = `import { createRequire as __keymintRequire } from 'node:module'; const require = __keymintRequire(import.meta.url);`;

/**
 * esbuild puts every module of @keymint/core into the start-up chunk of a code-split build when
 * the CLI imports anything from its index, because core's package.json does not declare itself free
 * of side effects (its modules only define things). Saying so here lets `keymint --help` load
 * errors.js alone (layout 'split' only: main.js holds all of core anyway).
 */
const sideEffectFreeCore = {
  name: 'keymint-core-side-effect-free',
  setup(b) {
    const coreDir = `${sep}packages${sep}core${sep}`;
    b.onResolve({ filter: /^(@keymint\/core$|\.\.?\/)/ }, async (args) => {
      if (args.pluginData?.again) return undefined;
      if (args.path !== '@keymint/core' && !args.importer.includes(coreDir)) return undefined;
      const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { again: true } });
      if (resolved.errors.length > 0) return { errors: resolved.errors };
      return resolved.path.includes(coreDir) ? { ...resolved, sideEffects: false } : resolved;
    });
  },
};

/**
 * The native packages stay outside the bundle, but a bare `import('graphene-pk11')` in a chunk
 * under apps/cli/dist would be resolved from @keymint/cli, which does not depend on it: its
 * backend does. Each becomes a small module that requires the package from the backend's own
 * location, as Node would if the backend were not bundled, in any install layout; only when the
 * backend's dynamic import runs, so `keymint --help` and software keys never load native code.
 * The named exports are read off the package's main file (`module.exports.Name =` lines, as
 * Node's CommonJS lexer would find them), without running it.
 */
const nativeFromBackend = {
  name: 'keymint-native-from-backend',
  setup(b) {
    const filter = new RegExp(`^(${Object.keys(NATIVE_PACKAGES).map((n) => n.replace(/[/.]/g, '\\$&')).join('|')})$`);
    b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'keymint-native' }));
    b.onLoad({ filter: /.*/, namespace: 'keymint-native' }, (args) => {
      const backend = NATIVE_PACKAGES[args.path];
      const fromBackend = createRequire(requireHere.resolve(backend));
      const main = readFileSync(fromBackend.resolve(args.path), 'utf8');
      const names = [...new Set([...main.matchAll(/^\s*(?:module\.)?exports\.([A-Za-z_$][\w$]*)\s*=/gm)].map((m) => m[1]))].filter((n) => n !== 'default');
      return {
        loader: 'js',
        contents: [
          `import { createRequire } from 'node:module';`,
          `const fromCli = createRequire(import.meta.url);`,
          `const native = createRequire(fromCli.resolve(${JSON.stringify(backend)}))(${JSON.stringify(args.path)});`,
          `export default native;`,
          ...(names.length > 0 ? [`export const { ${names.join(', ')} } = native;`] : []),
        ].join('\n'),
      };
    });
  },
};

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
          `const load = () => (real ??= createRequire(import.meta.url)('node:${args.path}'));`,
          ...functions.map((n) => `export function ${n}(...args) { const f = load().${n}; return new.target ? Reflect.construct(f, args) : f.apply(this, args); }`),
        ].join('\n'),
      };
    });
  },
};

/** Layout 'main': dynamic imports of the lazy parts become imports of their chunks. */
const lazyPartsExternal = {
  name: 'keymint-lazy-parts',
  setup(b) {
    for (const part of LAZY_PARTS) {
      const filter = new RegExp(`^${part.specifier.replace(/[/.]/g, '\\$&')}$`);
      b.onResolve({ filter }, (args) => {
        if (args.kind !== 'dynamic-import') {
          return { errors: [{ text: `${args.importer} imports ${args.path} statically: it is a lazy part of the bundle (LAZY_PARTS in build.mjs), only import() it` }] };
        }
        return { path: `./chunks/${part.chunk}.js`, external: true };
      });
    }
    // bin.js takes the program from main.js.
    b.onResolve({ filter: /^\.\/program\.js$/ }, (args) => (args.importer === join(SRC, 'bin.ts') ? { path: './main.js', external: true } : undefined));
  },
};

/** Layout 'main', in the lazy chunks: what main.js holds comes from main.js. */
async function sharedFromMain() {
  const names = new Map();
  for (const shared of SHARED) names.set(shared.name, Object.keys(await import(pathToFileURL(shared.exportsOf()).href)));
  return {
    name: 'keymint-shared-from-main',
    setup(b) {
      for (const shared of SHARED.filter((s) => s.specifier !== undefined)) {
        b.onResolve({ filter: new RegExp(`^${shared.specifier.replace(/[/.]/g, '\\$&')}$`) }, () => ({ path: shared.name, namespace: 'keymint-shared' }));
      }
      b.onResolve({ filter: /^\.\.?\// }, async (args) => {
        if (args.pluginData?.again || !args.importer.startsWith(SRC + sep)) return undefined;
        const resolved = await b.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { again: true } });
        const shared = SHARED.find((s) => s.file === resolved.path);
        return shared === undefined ? resolved : { path: shared.name, namespace: 'keymint-shared' };
      });
      b.onResolve({ filter: /^\.\.\/main\.js$/ }, (args) => (args.namespace === 'keymint-shared' ? { path: '../main.js', external: true } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'keymint-shared' }, (args) => {
        const exported = names.get(args.path).filter((n) => n !== 'default');
        return {
          loader: 'js',
          resolveDir: HERE,
          contents: [
            `import { shared } from '../main.js';`,
            `const ns = await shared.${args.path}();`,
            ...(exported.length > 0 ? [`export const { ${exported.join(', ')} } = ns;`] : []),
            ...(names.get(args.path).includes('default') ? ['export default ns.default;'] : []),
          ].join('\n'),
        };
      });
    },
  };
}

/** The files of a build's metafile that are on disk (not a plugin's virtual module). */
const inputFiles = (metafile) => new Set(Object.keys(metafile.inputs).filter((p) => !/^[\w-]+:/.test(p)));

/**
 * Bundles src/bin.ts into `outdir`.
 * @param {{ outdir?: string, layout?: 'main' | 'split', sideEffectFreeCore?: boolean, lazyBuiltins?: boolean, minify?: boolean }} options
 *   layout 'split': esbuild's code splitting over the dynamic imports, a chunk per command and
 *   backend and per set of them sharing code. 'main': main.js and the lazy parts (see the top).
 */
export async function bundleCli(options = {}) {
  const { outdir = join(HERE, 'dist'), layout, sideEffectFreeCore: sideFree, lazyBuiltins: lazy, minify } = { ...SHIPPED, ...options };
  const { version } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  await rm(join(outdir, 'chunks'), { recursive: true, force: true });
  await rm(join(outdir, 'main.js'), { force: true });
  // tsc's source map of the bin.js this replaces would point into the wrong file.
  await rm(join(outdir, 'bin.js.map'), { force: true });
  const common = {
    absWorkingDir: HERE,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Kept readable enough for a KEYMINT_DEBUG=1 stack trace: names stay, whitespace goes.
    minifyWhitespace: minify,
    minifySyntax: minify,
    legalComments: 'eof',
    define: { KEYMINT_VERSION: JSON.stringify(version) },
    // Bundled CommonJS (commander, sshpk) calls require(): give every file one.
    banner: { js: BANNER },
    metafile: true,
    logLevel: 'warning',
  };
  const builtins = lazy ? [lazyBuiltins] : [];
  if (layout === 'split') {
    return build({
      ...common,
      entryPoints: { bin: 'src/bin.ts' },
      outdir,
      chunkNames: 'chunks/[name]-[hash]',
      splitting: true,
      plugins: [nativeFromBackend, ...(sideFree ? [sideEffectFreeCore] : []), ...builtins],
    });
  }
  // The shared modules as functions that import them: esbuild inlines these imports (main.js is one
  // file) as lazy initializers, so `keymint --help` does not run core's and jose's module code.
  const exportsOfMain = [
    `export { run } from './src/program.ts';`,
    `export const shared = {`,
    ...SHARED.map((s) => `  ${s.name}: () => import(${JSON.stringify(s.specifier ?? `./${relative(HERE, s.file).split(sep).join('/')}`)}),`),
    `};`,
  ].join('\n');
  const bin = await build({
    ...common,
    entryPoints: { bin: 'src/bin.ts' },
    outdir,
    banner: {},
    plugins: [lazyPartsExternal],
  });
  const main = await build({
    ...common,
    stdin: { contents: exportsOfMain, resolveDir: HERE, sourcefile: 'main.js', loader: 'js' },
    outfile: join(outdir, 'main.js'),
    plugins: [lazyPartsExternal, ...builtins],
  });
  const parts = await build({
    ...common,
    entryPoints: Object.fromEntries(LAZY_PARTS.map((p) => [p.chunk, typeof p.entry === 'function' ? p.entry() : p.entry])),
    outdir: join(outdir, 'chunks'),
    chunkNames: 'shared-[hash]',
    splitting: true,
    plugins: [nativeFromBackend, await sharedFromMain(), ...builtins],
  });
  // One copy of each module: a file in both main.js and a lazy chunk would be two modules (two
  // KeymintError classes, two caches), which breaks instanceof across them.
  const inMain = inputFiles(main.metafile);
  const twice = [...inputFiles(parts.metafile)].filter((f) => inMain.has(f));
  if (twice.length > 0) throw new Error(`in main.js and in the lazy chunks both: ${twice.join(', ')}; add what they share to SHARED in build.mjs`);
  const inBin = inputFiles(bin.metafile);
  if (inBin.size !== 1) throw new Error(`bin.js should hold src/bin.ts alone, it holds ${[...inBin].join(', ')}`);
  return { bin, main, parts };
}

/**
 * The help texts quote core's DEFAULT_PBES2_COUNT without importing it (it sits beside the JWE
 * code, which `keymint --help` should not need): fail the build if the two drift apart.
 */
async function checkHelpDefaults() {
  const { DEFAULT_PBES2_COUNT } = await import('@keymint/core');
  const { buildProgram } = await import(pathToFileURL(join(HERE, 'dist', 'program.js')).href);
  const option = buildProgram()
    .commands.find((c) => c.name() === 'create')
    ?.options.find((o) => o.long === '--pbes2-count');
  if (option?.defaultValue !== String(DEFAULT_PBES2_COUNT)) {
    throw new Error(`create --pbes2-count defaults to ${option?.defaultValue} in program.ts, but core's DEFAULT_PBES2_COUNT is ${DEFAULT_PBES2_COUNT}`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await checkHelpDefaults();
  await bundleCli();
}
