import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, runProgram, tempDir } from './helpers.js';

/**
 * keymint ships as one CommonJS file compiled from a V8 code cache made at build time
 * (apps/cli/build.mjs). V8 rejects a cache made for another Node or other V8 flags and compiles
 * the source instead: keymint must work the same on both paths, and with no cache at all.
 */
const copy = mkdtempSync(join(tmpdir(), 'keymint-e2e-cache-'));
cpSync(dirname(BIN), join(copy, 'dist'), { recursive: true });
afterAll(() => rmSync(copy, { recursive: true, force: true }));

async function run(bin: string, args: string[], nodeFlags: string[] = []) {
  const dir = tempDir();
  return runProgram(process.execPath, [...nodeFlags, bin, ...args], { cwd: dir, env: { KEYMINT_DEBUG: '1' } });
}

describe('the code cache', () => {
  it('is used as built', async () => {
    const result = await run(BIN, ['--version']);
    expect(result.stderr).toBe('keymint: code cache used\n');
    expect(result.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('is rejected, and the source compiled, under other V8 flags: keymint works the same', async () => {
    const version = await run(BIN, ['--version'], ['--stack-size=900']);
    expect(version.stderr).toBe('keymint: code cache rejected\n');
    expect(version.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
    const created = await run(
      BIN,
      ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
      ['--stack-size=900'],
    );
    expect(created.code, created.stderr).toBe(0);
    expect(created.stderr).toMatch(/^keymint: code cache rejected\nYour public key has been saved in k\.pub\.json\./);
  });

  it('is rejected when damaged, and not needed when missing', async () => {
    const bin = join(copy, 'dist', 'bin.cjs');
    writeFileSync(join(copy, 'dist', 'keymint.cache'), Buffer.alloc(4096, 7));
    const damaged = await run(bin, ['create', '--no-password', '--insecure', 'k.pub.json', 'k.json']);
    expect(damaged.code, damaged.stderr).toBe(0);
    expect(damaged.stderr).toMatch(/^keymint: code cache rejected\n/);
    rmSync(join(copy, 'dist', 'keymint.cache'));
    const missing = await run(bin, ['--help']);
    expect(missing.code).toBe(0);
    expect(missing.stderr).toBe('keymint: code cache missing\n');
    expect(missing.stdout).toMatch(/^Usage: keymint/);
  });
});

/**
 * What a run loads, seen from inside the process: a preloaded script writes, at exit, whether
 * Node's ES module loader translated any module, whether node:crypto was loaded, which CommonJS
 * files were required and which directories were listed (where keymint looks for backends).
 */
/** A directory holding a password file `p`. */
async function passwordDir(): Promise<string> {
  const dir = tempDir();
  writeFileSync(join(dir, 'p'), 'correct horse battery staple\n');
  return dir;
}

describe('a run loads what it needs only', () => {
  const probe = join(copy, 'probe.cjs');
  writeFileSync(
    probe,
    `const fs = require('node:fs');
    const listed = [];
    const readdirSync = fs.readdirSync;
    fs.readdirSync = (path, ...rest) => (listed.push(String(path)), readdirSync(path, ...rest));
    process.on('exit', () => fs.writeFileSync(process.env.PROBE_OUT, JSON.stringify({
      esm: process.moduleLoadList.some((m) => m.includes('internal/modules/esm/translators')),
      crypto: process.moduleLoadList.includes('NativeModule crypto'),
      files: Object.keys(require.cache),
      listed,
    })));\n`,
  );

  async function loads(args: string[], cwd = tempDir()) {
    const out = join(cwd, 'probe.json');
    const result = await runProgram(process.execPath, ['--require', probe, BIN, ...args], {
      cwd,
      env: { PROBE_OUT: out },
    });
    expect(result.code, result.stderr).toBe(0);
    return JSON.parse(readFileSync(out, 'utf8')) as {
      esm: boolean;
      crypto: boolean;
      files: string[];
      listed: string[];
    };
  }

  it('creates a software key with the bundle alone: no ES module, no other backend read or looked for (the software backend is built in), no sshpk', async () => {
    const dir = tempDir();
    const seen = await loads(['create', '--kty', 'EC', '--no-password', '--insecure', 'k.pub.json', 'k.json'], dir);
    // The output directory is listed for stale temp files of the keys it writes; nothing else.
    expect(seen).toEqual({ esm: false, crypto: true, files: [probe, BIN], listed: [dir, dir] });
  });

  it('looks for installed backends when a flag may be one of theirs', async () => {
    const seen = await loads(
      ['create', '--kty', 'EC', '--pbes2-count', '1000', '--password-file', 'p', 'k.pub.json', 'k.json'],
      await passwordDir(),
    );
    expect(seen.listed.some((d) => d.endsWith('node_modules'))).toBe(true);
  });

  it('prints its version and its help without node:crypto, and its help without reading a backend', async () => {
    expect(await loads(['--version'])).toEqual({ esm: false, crypto: false, files: [probe, BIN], listed: [] });
    const help = await loads(['--help']);
    expect(help).toEqual({ esm: false, crypto: false, files: [probe, BIN], listed: [] });
  });

  it('reads the manifest of a backend whose flag the command line uses, and only that one', async () => {
    const seen = await loads([
      'create',
      '--kty',
      'EC',
      '--no-password',
      '--insecure',
      '--keychain-service',
      'x',
      'k.pub.json',
      'k.json',
    ]);
    expect(seen.files.filter((f) => f.endsWith('manifest.cjs'))).toEqual([
      expect.stringMatching(/backend-keychain\/dist\/manifest\.cjs$/),
    ]);
    const help = await loads(['create', '--help']);
    expect(help.files.filter((f) => f.endsWith('manifest.cjs')).length).toBeGreaterThanOrEqual(2);
  });

  it('loads sshpk, from its own file, for an OpenSSH key', async () => {
    const dir = tempDir();
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'id')]);
    const seen = await loads(
      ['create', '--from-pem', 'id', '--no-password', '--insecure', 'k.pub.json', 'k.json'],
      dir,
    );
    expect(seen.files).toContain(join(dirname(BIN), 'sshpk.cjs'));
  });
});
