#!/usr/bin/env node
// Bundles the keymint CLI with esbuild into dist/bin.js, the file that ships as `keymint` (the
// package's bin and the root ./keymint shim). tsc runs first (`pnpm run build`): it type-checks and
// writes dist/index.js with its .d.ts for the programmatic API; this then replaces tsc's
// dist/bin.js with the bundle, and a chunk per command under dist/chunks.
//
// Backends are not in the bundle: the CLI finds them at run time as installed packages
// (@keymint/backend-<name>, keymint-backend-<name>) and imports their manifests (src/backends.ts).
// Nothing here names a backend.
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const HERE = dirname(fileURLToPath(import.meta.url));
const requireHere = createRequire(join(HERE, 'package.json'));

/** Builtins only some runs use: they load on first use (see lazyBuiltins). */
const LAZY_BUILTINS = ['child_process', 'readline', 'tty'];

const BANNER = `import { createRequire as __keymintRequire } from 'node:module'; const require = __keymintRequire(import.meta.url);`;

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

/**
 * Bundles src/bin.ts into `outdir`: the entry, and a chunk per command and per lazily loaded part
 * (PEM and OpenSSH import), which esbuild's code splitting makes from the dynamic imports.
 * @param {{ outdir?: string, minify?: boolean }} options
 */
export async function bundleCli(options = {}) {
  const { outdir = join(HERE, 'dist'), minify = true } = options;
  const { version } = JSON.parse(readFileSync(join(HERE, 'package.json'), 'utf8'));
  await rm(join(outdir, 'chunks'), { recursive: true, force: true });
  // tsc's source map of the bin.js this replaces would point into the wrong file.
  await rm(join(outdir, 'bin.js.map'), { force: true });
  return build({
    absWorkingDir: HERE,
    entryPoints: { bin: 'src/bin.ts' },
    outdir,
    chunkNames: 'chunks/[name]-[hash]',
    splitting: true,
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
    plugins: [lazyBuiltins],
  });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await bundleCli();
}
