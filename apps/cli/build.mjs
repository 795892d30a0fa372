#!/usr/bin/env node
// Bundles the keymint CLI with esbuild into dist/bin.js, the file that ships as `keymint`. tsc
// runs first (`pnpm run build`): it type-checks and writes dist/index.js with its .d.ts for the
// programmatic API; this script then replaces tsc's dist/bin.js with the bundle.
//
// Why a bundle: unbundled, `keymint create` loads ~100 ES modules one by one (core, jose,
// commander ...), each resolved, read and compiled on its own. Bundled, start-up loads a handful
// of files. Each command and each backend stays its own chunk (code splitting over the dynamic
// imports), so software keys never load the PKCS#11 or keychain code, and no command loads
// another command's code. bench/README.md has what each step buys.
import { readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));

/**
 * Native packages the backends import lazily. They stay outside the bundle, and are resolved
 * from the backend package that depends on them (see nativeFromBackend).
 */
export const NATIVE_PACKAGES = {
  'graphene-pk11': '@keymint/backend-pkcs11',
  '@napi-rs/keyring': '@keymint/backend-keychain',
};

/** The bundle options the benchmark compares; the defaults are what ships. */
export const SHIPPED = Object.freeze({ minify: true, sideEffectFreeCore: true, leanBuiltins: true, groupSoftware: true });

/**
 * esbuild puts every module of @keymint/core into the start-up chunk when the CLI imports anything
 * from its index, because core's package.json does not declare itself free of side effects (its
 * modules only define things). Saying so here lets `keymint --help` load errors.js alone.
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
 * backend does. Each becomes a small chunk that requires the package from the backend's own
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
      const fromBackend = createRequire(createRequire(join(HERE, 'package.json')).resolve(backend));
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
 * Commands that open a native backend: each stays a chunk of its own, apart from the software
 * code, so that `keymint create` never loads PKCS#11 or keychain code and they never load each other.
 */
export const NATIVE_COMMANDS = ['pkcs11', 'keychain'];

/**
 * Every other command, and the software backend, loads lazily too, but as one chunk: any one of
 * them needs most of core. As separate dynamic imports esbuild makes a chunk for each and one more
 * for every set of them that shares code (`keymint create` then loads 17 files instead of 12).
 * The group re-exports every export of those modules, so a name two of them export would be
 * ambiguous: the build fails on it instead.
 */
async function softwareGroup() {
  const commands = readdirSync(join(HERE, 'src', 'commands'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !NATIVE_COMMANDS.includes(f.replace(/\.ts$/, '')))
    .map((f) => `./commands/${f.replace(/\.ts$/, '.js')}`)
    .sort();
  const owner = new Map();
  for (const m of commands) {
    for (const name of Object.keys(await import(pathToFileURL(join(HERE, 'dist', m)).href))) {
      if (owner.has(name)) throw new Error(`${m} and ${owner.get(name)} both export ${name}: the software chunk re-exports both (rename one)`);
      owner.set(name, m);
    }
  }
  return {
    name: 'keymint-group-software',
    setup(b) {
      const src = join(HERE, 'src');
      b.onResolve({ filter: /^(\.\/commands\/[\w-]+\.js|@keymint\/backend-software)$/ }, (args) => {
        if (args.kind !== 'dynamic-import' || !args.importer.startsWith(src + sep)) return undefined;
        if (args.path !== '@keymint/backend-software' && !commands.includes(args.path)) return undefined;
        return { path: 'software', namespace: 'keymint-group' };
      });
      b.onLoad({ filter: /.*/, namespace: 'keymint-group' }, () => ({
        loader: 'js',
        resolveDir: src,
        contents: [...commands.map((m) => `export * from ${JSON.stringify(m.replace(/\.js$/, '.ts'))};`), `export { default } from '@keymint/backend-software';`].join('\n'),
      }));
    },
  };
}

/**
 * Start-up trims that are not about our code:
 * - `import { x } from 'node:fs'` makes Node build an ES facade of the whole builtin, which reads
 *   every export, lazy ones too (fs.ReadStream loads all of node:stream, util.parseArgs ...);
 *   `require('node:fs')` does not. So builtins are required, not imported.
 * - commander requires node:child_process (and with it net, dgram ...) at load time, for
 *   executable subcommands keymint does not have: it gets a stand-in that loads the real module
 *   on first use.
 */
const leanBuiltins = {
  name: 'keymint-lean-builtins',
  setup(b) {
    const builtins = new Set(createRequire(import.meta.url)('node:module').builtinModules);
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      const name = args.path.replace(/^node:/, '');
      if (!builtins.has(name)) return undefined;
      if (name === 'child_process' && args.importer.includes(`${sep}commander${sep}`)) return { path: name, namespace: 'keymint-lazy-builtin' };
      if (args.kind === 'import-statement') return { path: name, namespace: 'keymint-builtin' };
      return { path: `node:${name}`, external: true };
    });
    b.onLoad({ filter: /.*/, namespace: 'keymint-builtin' }, (args) => ({ loader: 'js', contents: `module.exports = require('node:${args.path}');` }));
    b.onLoad({ filter: /.*/, namespace: 'keymint-lazy-builtin' }, (args) => ({
      loader: 'js',
      contents: `let real; module.exports = new Proxy({}, { get: (_, name) => (real ??= require('node:${args.path}'))[name] });`,
    }));
  },
};

/**
 * Bundles src/bin.ts into `outdir`/bin.js with its chunks in `outdir`/chunks.
 * @param {{ outdir?: string, minify?: boolean, sideEffectFreeCore?: boolean, leanBuiltins?: boolean, groupSoftware?: boolean, metafile?: boolean }} options
 */
export async function bundleCli(options = {}) {
  const { outdir = join(HERE, 'dist'), minify, sideEffectFreeCore: sideFree, leanBuiltins: lean, groupSoftware: group, metafile = false } = { ...SHIPPED, ...options };
  const { version } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  await rm(join(outdir, 'chunks'), { recursive: true, force: true });
  // tsc's source map of the bin.js this replaces would point into the wrong file.
  await rm(join(outdir, 'bin.js.map'), { force: true });
  return build({
    absWorkingDir: HERE,
    entryPoints: { bin: 'src/bin.ts' },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    // Kept readable enough for a KEYMINT_DEBUG=1 stack trace: names stay, whitespace goes.
    minifyWhitespace: minify,
    minifySyntax: minify,
    legalComments: 'eof',
    define: { KEYMINT_VERSION: JSON.stringify(version) },
    // Bundled CommonJS (commander, sshpk) calls require(): give every chunk one.
    banner: { js: `import { createRequire as __keymintRequire } from 'node:module'; const require = __keymintRequire(import.meta.url);` },
    plugins: [nativeFromBackend, ...(group ? [await softwareGroup()] : []), ...(sideFree ? [sideEffectFreeCore] : []), ...(lean ? [leanBuiltins] : [])],
    metafile,
    logLevel: 'warning',
  });
}

/**
 * The help texts quote core's DEFAULT_PBES2_COUNT without importing it (it sits beside the JWE
 * code, which `keymint --help` should not load): fail the build if the two drift apart.
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
