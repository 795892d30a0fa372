import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { asCommandLine, deadPid, lockFor, processStartTime, rejection, thrown, newKeyPair } from '@keymint/test-kit';
import type { Jwk, JwkSet } from '../src/jwk.js';
import {
  addToKeySet,
  findInKeySet,
  parseKeySet,
  removeFromKeySet,
  serializeKeySet,
  updateKeySetFile,
  withFileLock,
} from '../src/keyset.js';
import { thumbprint } from '../src/thumbprint.js';

const ec = (kid?: string): Jwk => {
  const jwk = newKeyPair('ec', { namedCurve: 'prime256v1' }).publicJwk as Jwk;
  return kid === undefined ? jwk : { ...jwk, kid };
};

const root = mkdtempSync(join(tmpdir(), 'keymint-keyset-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
function dir(): string {
  const d = join(root, String(n++));
  mkdirSync(d);
  return d;
}

describe('parseKeySet', () => {
  it('reads a set and keeps members other than "keys"', () => {
    const set = parseKeySet('{"issuer":"https://as","keys":[{"kty":"EC","kid":"a"}],"x":1}', 'jwks.json');
    expect(set).toEqual({ issuer: 'https://as', keys: [{ kty: 'EC', kid: 'a' }], x: 1 });
  });

  it.each([
    ['', /the file is empty/],
    ['{"keys":', /not a JSON object/],
    ['[]', /not a JSON object/],
    ['{"kty":"EC"}', /a single JWK, not a set/],
    ['{"keys":{}}', /no "keys" array/],
    ['{"keys":[1]}', /keys\[0\] is not a JSON object/],
    ['{"keys":[{"kid":"a"}]}', /keys\[0\] has no "kty"/],
    ['{"keys":[{"kty":"EC","kid":5}]}', /"kid" that is not a string/],
  ])('refuses %j with ERR_INPUT_INVALID naming the file', (text, message) => {
    const error = thrown(() => parseKeySet(text, 'jwks.json'));
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(/^jwks.json is not a valid JWK Set: /);
    expect(error.message).toMatch(message);
  });

  it('serializes with two-space indentation and a final newline', () => {
    expect(serializeKeySet({ keys: [] })).toBe('{\n  "keys": []\n}\n');
  });
});

describe('addToKeySet, removeFromKeySet, findInKeySet', () => {
  it('appends keys, keeping the other members', async () => {
    const a = ec('a');
    const { set, added, removed } = await addToKeySet({ issuer: 'x', keys: [] }, [a]);
    expect(set).toEqual({ issuer: 'x', keys: [added[0]] });
    expect(added[0]).toMatchObject(a);
    expect(removed).toEqual([]);
  });

  it('gives a key without kid its RFC 7638 thumbprint', async () => {
    const key = ec();
    const { added } = await addToKeySet({ keys: [] }, [key]);
    expect(added[0]?.kid).toBe(await thumbprint(key));
  });

  it('refuses an oct key without kid', async () => {
    const error = await rejection(
      addToKeySet({ keys: [] }, [{ kty: 'oct', k: 'AAAA' }]),
      'ERR_PARAM_INVALID',
      /oct key has no kid/,
    );
    expect(asCommandLine(error)).toMatch(/give one with --kid$/);
  });

  it('refuses a duplicate kid, and the same key under another kid, unless force', async () => {
    const a = ec('a');
    const start: JwkSet = { keys: [a, ec('b')] };
    await rejection(addToKeySet(start, [ec('a')]), 'ERR_KEY_EXISTS', /kid "a"/);
    await rejection(addToKeySet(start, [{ ...a, kid: 'again' }]), 'ERR_KEY_EXISTS', /the same key, with kid "a"/);
    const replacement = ec('a');
    const forced = await addToKeySet(start, [replacement], { force: true });
    expect(forced.set.keys.map((k) => k.kid)).toEqual(['b', 'a']);
    expect(forced.set.keys[1]).toMatchObject(replacement);
    expect(forced.removed).toEqual([a]);
  });

  it('refuses two new keys with one kid', async () => {
    await rejection(addToKeySet({ keys: [] }, [ec('z'), ec('z')]), 'ERR_KEY_EXISTS');
  });

  it('removes and finds by kid; an unknown kid is ERR_KEY_NOT_FOUND', () => {
    const set: JwkSet = { keys: [ec('a'), ec('b')], other: true };
    expect(removeFromKeySet(set, 'a').set).toEqual({ keys: [set.keys[1]], other: true });
    expect(findInKeySet(set, 'b')).toEqual([set.keys[1]]);
    expect(thrown(() => removeFromKeySet(set, 'nope', 'jwks.json')).code).toBe('ERR_KEY_NOT_FOUND');
    expect(thrown(() => findInKeySet(set, 'nope', 'jwks.json')).message).toMatch(
      /jwks.json has no key with kid "nope"/,
    );
  });
});

describe('updateKeySetFile', () => {
  it('creates a public set 0644, keeps the mode of an existing one, and writes a set with private keys 0600', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')]), { create: true });
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(JSON.parse(readFileSync(path, 'utf8')).keys).toHaveLength(1);
    const priv = newKeyPair('ec', { namedCurve: 'prime256v1' }).privateJwk as Jwk;
    await updateKeySetFile(path, (set) => addToKeySet(set, [{ ...priv, kid: 'p' }]));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('keeps members other than "keys", in their order', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"issuer":"https://as","keys":[],"z":[1,2]}');
    await updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')]));
    const text = readFileSync(path, 'utf8');
    expect(Object.keys(JSON.parse(text))).toEqual(['issuer', 'keys', 'z']);
    expect(text).toMatch(/^\{\n {2}"issuer": "https:\/\/as",\n/);
  });

  it('leaves a malformed set, and its directory, exactly as they were', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"keys": [');
    await rejection(
      updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')])),
      'ERR_INPUT_INVALID',
      /not a valid JWK Set/,
    );
    expect(readFileSync(path, 'utf8')).toBe('{"keys": [');
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('without create, a missing file is ERR_IO and nothing is written', async () => {
    const d = dir();
    await rejection(
      updateKeySetFile(join(d, 'none.json'), (set) => removeFromKeySet(set, 'a')),
      'ERR_IO',
      /no such file/,
    );
    expect(readdirSync(d)).toEqual([]);
  });

  it('an error in the change leaves the file as it was and removes the lock', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, '{"keys":[]}\n');
    await rejection(
      updateKeySetFile(path, (set) => removeFromKeySet(set, 'a')),
      'ERR_KEY_NOT_FOUND',
    );
    expect(readdirSync(d)).toEqual(['jwks.json']);
    expect(readFileSync(path, 'utf8')).toBe('{"keys":[]}\n');
  });

  it('serializes concurrent changes in one process: 25 adds, 25 keys', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        updateKeySetFile(path, (set) => addToKeySet(set, [ec(`k${i}`)]), { create: true }),
      ),
    );
    const kids = (JSON.parse(readFileSync(path, 'utf8')) as JwkSet).keys.map((k) => k.kid).sort();
    expect(kids).toEqual(Array.from({ length: 25 }, (_, i) => `k${i}`).sort());
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });
});

describe('updateKeySetFile: no change is reported that is not in the file', () => {
  const kidsIn = (path: string) => (JSON.parse(readFileSync(path, 'utf8')) as JwkSet).keys.map((k) => k.kid);

  it('a set written by another program while the change runs: the change runs again on the new set, and both land', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [ec('old')] }));
    let rounds = 0;
    const change = await updateKeySetFile(path, async (set) => {
      // An editor, or a keymint that ignores the lock, replaces the file after it was read.
      if (rounds++ === 0) writeFileSync(`${path}.other`, serializeKeySet({ keys: [...set.keys, ec('theirs')] }));
      if (rounds === 1) renameSync(`${path}.other`, path);
      return addToKeySet(set, [ec('mine')]);
    });
    expect(rounds).toBe(2);
    expect(change.set.keys.map((k) => k.kid)).toEqual(['old', 'theirs', 'mine']);
    expect(kidsIn(path)).toEqual(['old', 'theirs', 'mine']);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('a set changed in place (same inode) is seen too', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [] }));
    let rounds = 0;
    await updateKeySetFile(path, async (set) => {
      if (rounds++ === 0) appendFileSync(path, ' ');
      return addToKeySet(set, [ec('mine')]);
    });
    expect(rounds).toBe(2);
    expect(kidsIn(path)).toEqual(['mine']);
  });

  it('a set created by another program while a new one is made is not replaced blindly', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    let rounds = 0;
    await updateKeySetFile(
      path,
      async (set) => {
        if (rounds++ === 0) writeFileSync(path, serializeKeySet({ keys: [ec('theirs')] }));
        return addToKeySet(set, [ec('mine')]);
      },
      { create: true },
    );
    expect(kidsIn(path)).toEqual(['theirs', 'mine']);
  });

  it('a set that keeps changing: ERR_IO after a few rounds, and the change is not in the file', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [] }));
    let rounds = 0;
    const error = await rejection(
      updateKeySetFile(path, async (set) => {
        writeFileSync(path, serializeKeySet({ keys: [ec(`theirs-${rounds++}`)] }));
        return addToKeySet(set, [ec('mine')]);
      }),
      'ERR_IO',
      /jwks.json was changed by another program while keymint was changing it, 5 times: nothing was written/,
    );
    expect(error.hint).toMatch(/takes its lock .*jwks.json.lock/);
    expect(rounds).toBe(5);
    expect(kidsIn(path)).toEqual(['theirs-4']);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('a lock lost while the change runs (removed by hand, taken by another): it takes the lock again and starts over', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [] }));
    let rounds = 0;
    await updateKeySetFile(path, async (set) => {
      if (rounds++ === 0) {
        // Someone removes the lock; another process takes it and holds it for 200 ms.
        rmSync(`${path}.lock`);
        writeFileSync(`${path}.lock`, lockFor(process.ppid));
        setTimeout(() => rmSync(`${path}.lock`), 200);
      }
      return addToKeySet(set, [ec('mine')]);
    });
    expect(rounds).toBe(2);
    expect(kidsIn(path)).toEqual(['mine']);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });

  it('a lock that stays lost: ERR_IO once the lock timeout is spent, nothing written, their lock left alone', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [] }));
    const theirs = lockFor(process.ppid);
    const error = await rejection(
      updateKeySetFile(
        path,
        async (set) => {
          if (!existsSync(`${path}.lock`) || readFileSync(`${path}.lock`, 'utf8') !== theirs)
            writeFileSync(`${path}.lock`, theirs);
          return addToKeySet(set, [ec('mine')]);
        },
        { lock: { timeoutMs: 300 } },
      ),
      'ERR_IO',
      new RegExp(`locked by process ${process.ppid}`),
    );
    expect(error.message).not.toMatch(/mine/);
    expect(kidsIn(path)).toEqual([]);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(theirs);
  });
});

describe('updateKeySetFile: what the set file is', () => {
  it('a symbolic link is changed through: the link stays, the file it points to changes, lock and temps beside it', async () => {
    const d = dir();
    mkdirSync(join(d, 'real'));
    const real = join(d, 'real', 'jwks-2026.json');
    writeFileSync(real, serializeKeySet({ keys: [ec('a')] }), { mode: 0o640 });
    chmodSync(real, 0o640);
    symlinkSync(join('real', 'jwks-2026.json'), join(d, 'jwks.json'));
    let lockAt: string[] = [];
    await updateKeySetFile(join(d, 'jwks.json'), (set) => {
      lockAt = readdirSync(join(d, 'real'));
      return addToKeySet(set, [ec('b')]);
    });
    expect(lockAt).toEqual(['jwks-2026.json', 'jwks-2026.json.lock']);
    expect(lstatSync(join(d, 'jwks.json')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(d, 'jwks.json'))).toBe(join('real', 'jwks-2026.json'));
    expect((JSON.parse(readFileSync(real, 'utf8')) as JwkSet).keys.map((k) => k.kid)).toEqual(['a', 'b']);
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(d).sort()).toEqual(['jwks.json', 'real']);
    expect(readdirSync(join(d, 'real'))).toEqual(['jwks-2026.json']);
  });

  it('two links to one set share its lock: concurrent changes through both land', async () => {
    const d = dir();
    writeFileSync(join(d, 'set.json'), serializeKeySet({ keys: [] }));
    symlinkSync('set.json', join(d, 'a.json'));
    symlinkSync('set.json', join(d, 'b.json'));
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        updateKeySetFile(join(d, i % 2 ? 'a.json' : 'b.json'), (set) => addToKeySet(set, [ec(`k${i}`)])),
      ),
    );
    expect((JSON.parse(readFileSync(join(d, 'set.json'), 'utf8')) as JwkSet).keys).toHaveLength(10);
  });

  it.each([
    [
      'a dangling link',
      (d: string) => symlinkSync('nowhere.json', join(d, 'jwks.json')),
      /is a symbolic link to a file that does not exist/,
    ],
    ['a link loop', (d: string) => symlinkSync('jwks.json', join(d, 'jwks.json')), /is a loop of symbolic links/],
    ['a directory', (d: string) => mkdirSync(join(d, 'jwks.json')), /is a directory, not a regular file/],
    [
      'a FIFO',
      (d: string) => execFileSync('mkfifo', [join(d, 'jwks.json')]),
      /is a FIFO \(named pipe\), not a regular file/,
    ],
    [
      'a link to a device',
      (d: string) => symlinkSync('/dev/null', join(d, 'jwks.json')),
      /is a device, not a regular file/,
    ],
    [
      'a link to a FIFO',
      (d: string) => {
        execFileSync('mkfifo', [join(d, 'pipe')]);
        symlinkSync('pipe', join(d, 'jwks.json'));
      },
      /is a FIFO/,
    ],
  ])(
    '%s is refused with ERR_IO before anything is read or written (also with create)',
    async (_name, make, message) => {
      const d = dir();
      make(d);
      const before = readdirSync(d).sort();
      let ran = false;
      const change = (set: JwkSet) => {
        ran = true;
        return addToKeySet(set, [ec('a')]);
      };
      await rejection(updateKeySetFile(join(d, 'jwks.json'), change, { create: true }), 'ERR_IO', message);
      await rejection(updateKeySetFile(join(d, 'jwks.json'), change), 'ERR_IO', message);
      expect(ran).toBe(false);
      expect(readdirSync(d).sort()).toEqual(before);
    },
  );

  it('a FIFO put in place of the set after the check is refused without blocking', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(path, serializeKeySet({ keys: [] }));
    // The first look (before the lock) sees a file; by the time the lock is held, it is a FIFO.
    const swap = withFileLock(path, async () => {
      rmSync(path);
      execFileSync('mkfifo', [path]);
    });
    const update = updateKeySetFile(path, (set) => addToKeySet(set, [ec('a')]));
    await swap;
    await rejection(update, 'ERR_IO', /is a FIFO/);
    expect(readdirSync(d)).toEqual(['jwks.json']);
  });
});

describe('withFileLock', () => {
  it('waits for a live holder, and fails after the timeout naming it, leaving its lock alone', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const lock = JSON.stringify({ pid: process.pid, host: hostname(), since: '2026-01-01T00:00:00Z', token: 't' });
    writeFileSync(`${path}.lock`, lock);
    let ran = false;
    const error = await rejection(
      withFileLock(
        path,
        async () => {
          ran = true;
        },
        { timeoutMs: 300 },
      ),
      'ERR_IO',
      new RegExp(`locked by process ${process.pid} since 2026-01-01T00:00:00Z`),
    );
    expect(error.hint).toMatch(/remove .*jwks.json.lock/);
    expect(ran).toBe(false);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(lock);
    expect(readdirSync(d)).toEqual(['jwks.json.lock']);
  });

  it('gets the lock once the holder lets go', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: process.pid, host: hostname() }));
    setTimeout(() => rmSync(`${path}.lock`), 200);
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 5000 })).toBe('done');
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it('breaks a lock whose process is gone', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, JSON.stringify({ pid: await deadPid(), host: hostname() }));
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 300 })).toBe('done');
    expect(readdirSync(d)).toEqual([]);
  });

  it('never breaks a lock whose process is alive, however old the lock file (no age makes a lock stale)', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const lock = lockFor(process.ppid);
    writeFileSync(`${path}.lock`, lock);
    const old = new Date('2001-01-01');
    utimesSync(`${path}.lock`, old, old);
    const error = await rejection(
      withFileLock(path, async () => 'done', { timeoutMs: 300 }),
      'ERR_IO',
      new RegExp(`locked by process ${process.ppid} since`),
    );
    expect(error.hint).toMatch(/if no keymint is running, remove .*jwks.json.lock/);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(lock);
  });

  it('breaks the lock of a reused pid: the pid is alive, but started at another time than the holder', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    writeFileSync(`${path}.lock`, lockFor(process.ppid, { start: '1' }));
    expect(await withFileLock(path, async () => 'done', { timeoutMs: 300 })).toBe('done');
    expect(readdirSync(d)).toEqual([]);
    // The same lock with the holder's real start time is its holder's.
    writeFileSync(`${path}.lock`, lockFor(process.ppid));
    await rejection(
      withFileLock(path, async () => 'done', { timeoutMs: 300 }),
      'ERR_IO',
      /locked by process/,
    );
  });

  it("ten takers of a reused pid's lock at once: each runs, one at a time", async () => {
    const path = join(dir(), 'jwks.json');
    writeFileSync(`${path}.lock`, lockFor(process.ppid, { start: '1' }));
    let inside = 0;
    let most = 0;
    let runs = 0;
    const take = () =>
      withFileLock(
        path,
        async () => {
          inside++;
          runs++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        },
        { timeoutMs: 5000 },
      );
    await Promise.all(Array.from({ length: 10 }, take));
    expect([runs, most]).toEqual([10, 1]);
  });

  it('never breaks a lock taken on another host, even with a dead pid and years old; says to remove it by hand', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const lock = JSON.stringify({
      pid: await deadPid(),
      host: 'elsewhere.example',
      since: '2001-01-01T00:00:00Z',
      token: 't',
    });
    writeFileSync(`${path}.lock`, lock);
    utimesSync(`${path}.lock`, new Date('2001-01-01'), new Date('2001-01-01'));
    const message =
      /locked by process \d+ on elsewhere.example since 2001-01-01T00:00:00Z, which keymint cannot check from here/;
    const error = await rejection(
      withFileLock(path, async () => 'done', { timeoutMs: 200 }),
      'ERR_IO',
      message,
    );
    expect(error.hint).toMatch(/^if that process is not running, remove .*jwks.json.lock by hand$/);
    expect(readFileSync(`${path}.lock`, 'utf8')).toBe(lock);
  });

  it('never breaks a lock of this host from an earlier boot or another PID namespace, even with a dead pid', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const dead = await deadPid();
    for (const [other, where] of [
      [{ boot: '00000000-0000-0000-0000-000000000000' }, /before a restart, or another machine of that name/],
      [{ pidns: 'pid:[1]' }, /another PID namespace/],
    ] as const) {
      writeFileSync(`${path}.lock`, lockFor(dead, other));
      await rejection(
        withFileLock(path, async () => 'done', { timeoutMs: 200 }),
        'ERR_IO',
        where,
      );
    }
  });

  it("never breaks a lock that is not keymint's, however old", async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const ours = hostname();
    const others = [
      'garbage',
      '',
      '{"pid": 1}',
      JSON.stringify({ host: ours }),
      '[1]',
      ...[0, -1, 1.5, 2 ** 60].map((pid) => JSON.stringify({ pid, host: ours })),
    ];
    for (const content of others) {
      writeFileSync(`${path}.lock`, content);
      utimesSync(`${path}.lock`, new Date('2001-01-01'), new Date('2001-01-01'));
      const message = /locked by another program: .*jwks.json.lock is not a keymint lock/;
      const error = await rejection(
        withFileLock(path, async () => 'done', { timeoutMs: 200 }),
        'ERR_IO',
        message,
      );
      expect(error.hint).toMatch(/remove .*jwks.json.lock by hand/);
      expect(readFileSync(`${path}.lock`, 'utf8')).toBe(content);
    }
  });

  it('a lock records what tells its holder apart: pid, host, boot, PID namespace, start time, token', async () => {
    const path = join(dir(), 'jwks.json');
    const seen = await withFileLock(path, async (lock) => {
      expect(lock.held()).toBe(true);
      return JSON.parse(readFileSync(`${path}.lock`, 'utf8')) as Record<string, unknown>;
    });
    expect(seen).toEqual({
      pid: process.pid,
      host: hostname(),
      boot: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      pidns: readlinkSync('/proc/self/ns/pid'),
      start: processStartTime(process.pid),
      since: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      token: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
  });

  it('taking a lock removes the lock temps that dead keymints left (a full disk, a kill), not those of live ones', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    const tag = createHash('sha256')
      .update(`${hostname()}\0${readlinkSync('/proc/self/ns/pid')}`)
      .digest('hex')
      .slice(0, 8);
    const name = (pid: number) => `.jwks.json.lock.keymint-${tag}${pid.toString(16).padStart(8, '0')}a1b2c3d4e5f6.tmp`;
    const dead = name(await deadPid());
    const live = name(process.ppid);
    writeFileSync(join(d, dead), lockFor(1));
    writeFileSync(join(d, live), lockFor(1));
    await withFileLock(path, async () => undefined);
    expect(readdirSync(d)).toEqual([live]);
  });

  it('releases the lock when the action throws', async () => {
    const d = dir();
    const path = join(d, 'jwks.json');
    await expect(withFileLock(path, async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(readdirSync(d)).toEqual([]);
  });

  it('holds others off while it runs: no two actions overlap', async () => {
    const path = join(dir(), 'jwks.json');
    let inside = 0;
    let most = 0;
    await Promise.all(
      Array.from({ length: 10 }, () =>
        withFileLock(path, async () => {
          inside++;
          most = Math.max(most, inside);
          await new Promise((resolve) => setTimeout(resolve, 5));
          inside--;
        }),
      ),
    );
    expect(most).toBe(1);
  });
});
