import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, runProgram, tempDir } from './helpers.js';

/**
 * How the CLI finds backends (apps/cli/src/backends.ts): packages named keymint-backend-<name> in
 * the node_modules Node would search from keymint's files, each read through its ./manifest, which
 * may be CommonJS or an ES module; the backends built into the bundle come first. A copy of the
 * built CLI in a temp dir has a node_modules of the test's making beside it.
 */
function cliWith(packages: Record<string, { manifest: string; type: 'commonjs' | 'module' }>): string {
  const root = tempDir();
  cpSync(dirname(BIN), join(root, 'dist'), { recursive: true });
  for (const [name, { manifest, type }] of Object.entries(packages)) {
    const dir = join(root, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    const file = type === 'module' ? 'manifest.mjs' : 'manifest.cjs';
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, type, exports: { './manifest': `./${file}` } }));
    writeFileSync(join(dir, file), manifest);
  }
  return join(root, 'dist', 'bin.cjs');
}

const manifestOf = (name: string) =>
  JSON.stringify({
    apiVersion: 1,
    name,
    summary: `the ${name} test backend`,
    install: `npm install keymint-backend-${name}`,
    flags: [{ flags: `--${name}-store <path>`, option: 'store', description: `where ${name} keeps keys` }],
    environment: [],
    operations: [],
  });

const keymint = (bin: string, args: string[]) => runProgram(process.execPath, [bin, ...args], { cwd: dirname(bin) });

describe('backend discovery', () => {
  it('reads CommonJS and ES module manifests: each backend is a --backend choice with its flags', async () => {
    const bin = cliWith({
      'keymint-backend-cjs': { type: 'commonjs', manifest: `module.exports = ${manifestOf('cjs')};\n` },
      'keymint-backend-esm': { type: 'module', manifest: `export default ${manifestOf('esm')};\n` },
    });
    const help = await keymint(bin, ['create', '--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/--cjs-store <path>\s+\[cjs\] where cjs keeps keys/);
    expect(help.stdout).toMatch(/--esm-store <path>\s+\[esm\] where esm keeps keys/);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/where the key is made and kept: software, cjs, esm[,( ]/);
  });

  it('keeps the backends built into the bundle: an installed package of the same name is not read', async () => {
    const bin = cliWith({
      '@keymint/backend-software': {
        type: 'commonjs',
        manifest: `throw new Error('this manifest must not be read');\n`,
      },
    });
    const created = await keymint(bin, [
      'create',
      '--kty',
      'EC',
      '--no-password',
      '--insecure',
      'k.pub.json',
      'k.json',
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/^Your public key has been saved in k\.pub\.json\./);
  });

  it("refuses a backend whose flags do not start with --<its name>- (a command line's flags tell which manifests to read)", async () => {
    const manifest = {
      ...JSON.parse(manifestOf('odd')),
      flags: [{ flags: '--store <path>', option: 'store', description: 'x' }],
    };
    const bin = cliWith({
      'keymint-backend-odd': { type: 'commonjs', manifest: `module.exports = ${JSON.stringify(manifest)};\n` },
    });
    const used = await keymint(bin, ['create', '--backend', 'odd', 'k.pub.json', 'k.json']);
    expect(used.code).toBe(5);
    expect(used.stderr).toMatch(
      /^keymint: keymint-backend-odd is not a keymint backend this keymint can use: its flag --store does not start with --odd-/,
    );
  });

  it('leaves out a manifest that fails to load from the help, and names it when it is asked for', async () => {
    const bin = cliWith({ 'keymint-backend-broken': { type: 'commonjs', manifest: `throw new Error('broken');\n` } });
    const help = await keymint(bin, ['create', '--help']);
    expect(help.code, help.stderr).toBe(0);
    const used = await keymint(bin, ['create', '--backend', 'broken', 'k.pub.json', 'k.json']);
    expect(used.code).toBe(5);
    expect(used.stderr).toMatch(
      /^keymint: keymint-backend-broken is not a keymint backend this keymint can use: its manifest could not be loaded/,
    );
  });

  it("takes no package called keymint-backend-no: --no-... flags are negations, never a backend's", async () => {
    const bin = cliWith({
      'keymint-backend-no': { type: 'commonjs', manifest: `throw new Error('this manifest must not be read');\n` },
    });
    const help = await keymint(bin, ['create', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toMatch(/where the key is made and kept: software[,( ]/);
    expect(help.stdout).not.toMatch(/\bno\b,/);
    const used = await keymint(bin, ['create', '--backend', 'no', 'k.pub.json', 'k.json']);
    expect(used.code).toBe(2);
    expect(used.stderr).toMatch(/^keymint: --backend "no" is not a backend installed here/);
  });
});
