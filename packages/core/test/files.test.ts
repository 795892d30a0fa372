import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { KeymintError } from '../src/errors.js';
import { PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, checkOutputs, readInput, readPasswordFile, writeFilesAtomically } from '../src/files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-files-'));
});

const mode = (path: string) => statSync(path).mode & 0o777;

async function code(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(KeymintError);
  return (error as KeymintError).code;
}

describe('writeFilesAtomically', () => {
  it('writes each file with its mode, whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      await writeFilesAtomically([
        { path: join(dir, 'pub.json'), content: 'public', mode: PUBLIC_FILE_MODE },
        { path: join(dir, 'key.json'), content: 'private', mode: PRIVATE_FILE_MODE },
      ]);
    } finally {
      process.umask(old);
    }
    expect(mode(join(dir, 'pub.json'))).toBe(0o644);
    expect(mode(join(dir, 'key.json'))).toBe(0o600);
    expect(readFileSync(join(dir, 'key.json'), 'utf8')).toBe('private');
    expect(readdirSync(dir).sort()).toEqual(['key.json', 'pub.json']);
  });

  it('keeps 0600 under umask 000', async () => {
    const old = process.umask(0);
    try {
      await writeFilesAtomically([{ path: join(dir, 'key.json'), content: 'x', mode: PRIVATE_FILE_MODE }]);
    } finally {
      process.umask(old);
    }
    expect(mode(join(dir, 'key.json'))).toBe(0o600);
  });

  it('never overwrites without force, and writes nothing when one file exists', async () => {
    writeFileSync(join(dir, 'key.json'), 'old');
    const files = [
      { path: join(dir, 'pub.json'), content: 'new', mode: PUBLIC_FILE_MODE },
      { path: join(dir, 'key.json'), content: 'new', mode: PRIVATE_FILE_MODE },
    ];
    expect(await code(writeFilesAtomically(files))).toBe('ERR_FILE_EXISTS');
    expect(readFileSync(join(dir, 'key.json'), 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['key.json']);
  });

  it('replaces with force, and the new file gets the new mode', async () => {
    writeFileSync(join(dir, 'key.json'), 'old', { mode: 0o666 });
    await writeFilesAtomically([{ path: join(dir, 'key.json'), content: 'new', mode: PRIVATE_FILE_MODE }], { force: true });
    expect(readFileSync(join(dir, 'key.json'), 'utf8')).toBe('new');
    expect(mode(join(dir, 'key.json'))).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['key.json']);
  });

  it('refuses a directory, a missing parent and the same path twice', async () => {
    mkdirSync(join(dir, 'sub'));
    expect(await code(writeFilesAtomically([{ path: join(dir, 'sub'), content: '', mode: 0o600 }], { force: true }))).toBe('ERR_IO');
    expect(await code(writeFilesAtomically([{ path: join(dir, 'nope', 'k.json'), content: '', mode: 0o600 }]))).toBe('ERR_IO');
    const same = { path: join(dir, 'k.json'), content: '', mode: 0o600 };
    expect(await code(writeFilesAtomically([same, { ...same, path: `${dir}/./k.json` }]))).toBe('ERR_USAGE');
    expect(readdirSync(dir)).toEqual(['sub']);
  });

  it('leaves nothing behind when a later file cannot be written', async () => {
    // The second file's directory is not writable for its temporary file: /proc refuses new files.
    const files = [
      { path: join(dir, 'pub.json'), content: 'public', mode: PUBLIC_FILE_MODE },
      { path: '/proc/keymint-cannot-write-here.json', content: 'private', mode: PRIVATE_FILE_MODE },
    ];
    expect(await code(writeFilesAtomically(files))).toBe('ERR_IO');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('checkOutputs accepts new files and existing ones with force', async () => {
    writeFileSync(join(dir, 'a'), '');
    await expect(checkOutputs([join(dir, 'a'), join(dir, 'b')], { force: true })).resolves.toBeUndefined();
    expect(await code(checkOutputs([join(dir, 'a')]))).toBe('ERR_FILE_EXISTS');
  });
});

describe('reading', () => {
  it('reads a file and refuses a missing file, a directory and an oversized file', async () => {
    writeFileSync(join(dir, 'k'), 'text');
    expect(await readInput(join(dir, 'k'))).toBe('text');
    expect(await code(readInput(join(dir, 'missing')))).toBe('ERR_IO');
    expect(await code(readInput(dir))).toBe('ERR_IO');
    writeFileSync(join(dir, 'big'), Buffer.alloc(2 * 1024 * 1024));
    expect(await code(readInput(join(dir, 'big')))).toBe('ERR_INPUT_INVALID');
  });

  it('refuses a file that cannot be read', async () => {
    // Root may open any file, but reading offset 0 of a process's memory fails (EIO) for anyone.
    const error = await readInput('/proc/self/mem').then(() => undefined, (e: KeymintError) => e);
    expect(error?.code).toBe('ERR_IO');
    expect(error?.message).toMatch(/^file \/proc\/self\/mem: /);
  });

  it('trims only trailing whitespace from a password file', async () => {
    writeFileSync(join(dir, 'pw'), '  pass word \t\r\n\n');
    expect(await readPasswordFile(join(dir, 'pw'))).toBe('  pass word');
    writeFileSync(join(dir, 'empty'), '\n \n');
    expect(await code(readPasswordFile(join(dir, 'empty')))).toBe('ERR_PARAM_INVALID');
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    expect(await code(readPasswordFile(join(dir, 'nope')))).toBe('ERR_IO');
  });
});
