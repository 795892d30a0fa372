import { execFileSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  realpathSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { rejection } from '@keymint/test-kit';
import {
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  checkOutputs,
  readFileToReplace,
  readInput,
  readPasswordFile,
  sameFile,
  unchangedSince,
  writeFilesAtomically,
  type FileVersion,
} from '../src/files.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'keymint-files-'));
});

const mode = (path: string) => statSync(path).mode & 0o777;

async function code(promise: Promise<unknown>): Promise<string> {
  return (await rejection(promise)).code;
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
    await writeFilesAtomically([{ path: join(dir, 'key.json'), content: 'new', mode: PRIVATE_FILE_MODE }], {
      force: true,
    });
    expect(readFileSync(join(dir, 'key.json'), 'utf8')).toBe('new');
    expect(mode(join(dir, 'key.json'))).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['key.json']);
  });

  it('refuses a directory, a missing parent and the same path twice', async () => {
    mkdirSync(join(dir, 'sub'));
    expect(
      await code(writeFilesAtomically([{ path: join(dir, 'sub'), content: '', mode: 0o600 }], { force: true })),
    ).toBe('ERR_IO');
    expect(await code(writeFilesAtomically([{ path: join(dir, 'nope', 'k.json'), content: '', mode: 0o600 }]))).toBe(
      'ERR_IO',
    );
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
    await rejection(readInput('/proc/self/mem'), 'ERR_IO', /^file \/proc\/self\/mem: /);
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

describe('the same file under two names', () => {
  /**
   * root/a/b, files root/x, a/x, a/b/x; links la -> a, lb -> a/b, up -> ., a/back -> .., fl -> a/b/x,
   * dl -> nowhere (dangling); h is a hard link of a/x.
   */
  function tree(): string {
    const root = realpathSync(dir);
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    for (const f of ['x', 'a/x', 'a/b/x']) writeFileSync(join(root, f), f);
    symlinkSync('a', join(root, 'la'));
    symlinkSync(join('a', 'b'), join(root, 'lb'));
    symlinkSync('.', join(root, 'up'));
    symlinkSync('..', join(root, 'a', 'back'));
    symlinkSync(join('a', 'b', 'x'), join(root, 'fl'));
    symlinkSync('nowhere', join(root, 'dl'));
    linkSync(join(root, 'a', 'x'), join(root, 'h'));
    return root;
  }

  it('follows links, hard links, "..", "." and doubled slashes; a path that does not exist is its directory and name', async () => {
    const root = tree();
    const same: [string, string][] = [
      ['x', 'up/x'],
      ['a/x', 'la/x'],
      ['a/x', 'h'],
      ['a/b/x', 'fl'],
      ['a/b/x', 'lb/x'],
      ['x', 'a/back/x'],
      ['x', 'la/../x'],
      ['a/x', 'lb/../x'], // ".." after a link is the parent of its target, not of the link
      ['new', 'up/up/./new'],
      ['a/new', 'la//new'],
      ['a/b/new', 'lb/new'],
      ['dl', 'up/dl'],
    ];
    // `${root}/${a}`, not join(): join() would drop "lb/.." as text.
    for (const [a, b] of same) expect(await sameFile(`${root}/${a}`, `${root}/${b}`), `${a} = ${b}`).toBe(true);
    const different: [string, string][] = [
      ['x', 'a/x'],
      ['a/x', 'a/b/x'],
      ['new', 'a/new'],
      ['lb/../new', 'new'],
      ['dl', 'nowhere'], // a write replaces the dangling link itself
      ['h', 'x'],
    ];
    for (const [a, b] of different) expect(await sameFile(`${root}/${a}`, `${root}/${b}`), `${a} != ${b}`).toBe(false);
  });

  it(`agrees with realpath() on random walks through links, "." and ".." (5000 pairs)`, async () => {
    const root = tree();
    // The model: the system's realpath(3) (realpathSync.native: the JS one drops "link/.." as text)
    // of the file, or of its directory plus its name; the hard link h is a/x.
    const canonical = (path: string): string | undefined => {
      try {
        const real = realpathSync.native(path);
        return real === join(root, 'h') ? join(root, 'a', 'x') : real;
      } catch {
        try {
          return join(realpathSync.native(dirname(path)), basename(path));
        } catch {
          return undefined;
        }
      }
    };
    const step = fc.constantFrom('a', 'b', 'la', 'lb', 'up', 'back', '.', '..', '');
    const name = fc.constantFrom('x', 'h', 'fl', 'dl', 'nowhere', 'new', 'a', 'back');
    const path = fc
      .tuple(fc.array(step, { maxLength: 6 }), name)
      .map(([steps, last]) => [root, ...steps, last].join('/'));
    let equal = 0;
    await fc.assert(
      fc.asyncProperty(path, path, async (p, q) => {
        const [cp, cq] = [canonical(p), canonical(q)];
        fc.pre(cp !== undefined && cq !== undefined);
        if (cp === cq) equal++;
        expect(await sameFile(p, q), `${p} vs ${q}`).toBe(cp === cq);
      }),
      { numRuns: 5000 },
    );
    expect(equal, 'the walks find the same file often enough to mean something').toBeGreaterThan(100);
  });

  it('checkOutputs refuses two outputs that are one file (ERR_USAGE, naming both), and an input that is an output', async () => {
    const root = tree();
    const refused = (promise: Promise<unknown>, message: RegExp) => rejection(promise, 'ERR_USAGE', message);
    const at = (p: string) => join(root, p);
    await refused(
      checkOutputs([at('x'), at('up/x')], { force: true }),
      /\/x and .*\/up\/x are the same file: the output files must be two different files/,
    );
    await refused(checkOutputs([at('new'), at('up/new')]), /are the same file/);
    await refused(
      checkOutputs([at('out'), at('a/x')], {
        force: true,
        inputs: [
          ['-', 'stdin'],
          [undefined, '--none'],
          [at('h'), '--from-pem'],
        ],
      }),
      /^--from-pem .*\/h and the output .*\/a\/x are the same file: keymint would overwrite what it reads$/,
    );
    await expect(
      checkOutputs([at('out'), at('a/x')], { force: true, inputs: [[at('x'), '--from-pem']] }),
    ).resolves.toBeUndefined();
  });
});

describe('replacing a file that may change meanwhile', () => {
  it('readFileToReplace gives the text, mode and version; undefined when missing; refuses a FIFO without blocking', async () => {
    writeFileSync(join(dir, 'set.json'), '{"keys":[]}', { mode: 0o640 });
    const read = await readFileToReplace(join(dir, 'set.json'), 'JWK Set', 'set.json');
    expect(read?.text).toBe('{"keys":[]}');
    expect(read?.mode).toBe(0o640 & ~process.umask());
    expect(await readFileToReplace(join(dir, 'none.json'))).toBeUndefined();
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    const error = await rejection(readFileToReplace(join(dir, 'fifo'), 'JWK Set', 'fifo'), 'ERR_IO');
    expect(error.message).toBe(
      'JWK Set fifo: is a FIFO (named pipe), not a regular file: keymint changes only regular files',
    );
  });

  it('unchangedSince tells a replaced, rewritten, touched or created file from the one read', async () => {
    const path = join(dir, 'set.json');
    writeFileSync(path, 'one');
    const { version } = (await readFileToReplace(path)) as { version: FileVersion };
    expect(unchangedSince(path, version)).toBe(true);
    utimesSync(path, new Date(), new Date('2001-01-01'));
    expect(unchangedSince(path, version), 'mtime').toBe(false);
    const touched = (await readFileToReplace(path)) as { version: FileVersion };
    writeFileSync(`${path}.new`, 'one');
    renameSync(`${path}.new`, path);
    expect(unchangedSince(path, touched.version), 'replaced by the same bytes').toBe(false);
    expect(unchangedSince(join(dir, 'none'), undefined)).toBe(true);
    expect(unchangedSince(path, undefined), 'created').toBe(false);
  });

  it('writeFilesAtomically with a precondition that says no: returns false, nothing replaced, no temp left', async () => {
    writeFileSync(join(dir, 'a'), 'old a');
    writeFileSync(join(dir, 'b'), 'old b');
    const files = [
      { path: join(dir, 'a'), content: 'new a', mode: 0o600 },
      { path: join(dir, 'b'), content: 'new b', mode: 0o600 },
    ];
    let asked = 0;
    expect(
      await writeFilesAtomically(files, {
        force: true,
        precondition: () => {
          asked++;
          return false;
        },
      }),
    ).toBe(false);
    expect(asked).toBe(1);
    expect([readFileSync(join(dir, 'a'), 'utf8'), readFileSync(join(dir, 'b'), 'utf8')]).toEqual(['old a', 'old b']);
    expect(readdirSync(dir).sort()).toEqual(['a', 'b']);
    expect(await writeFilesAtomically(files, { force: true, precondition: () => true })).toBe(true);
    expect(readFileSync(join(dir, 'b'), 'utf8')).toBe('new b');
  });
});
