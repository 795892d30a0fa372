import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompactEncrypt, FlattenedEncrypt, flattenedDecrypt } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN, PASSWORD, expectError, listDir, passwordFile, writeFile, type RunResult } from '../helpers.js';
import { nodeJwk } from '../toolbox/helpers.js';

/**
 * Hostile encrypted key files, through the built CLI. Each run is probed (fixtures/probe.mjs,
 * loaded with node --import): it counts the PBKDF2 derivations the run starts and reports the
 * run's peak memory and the bytes it read, so "refused before any key derivation" and "without
 * reading it all, in bounded memory" are measured, not timed.
 */

const PROBE = fileURLToPath(new URL('./fixtures/probe.mjs', import.meta.url));
const MiB = 1024 * 1024;
const HUGE = 100_000_000;

const dir = mkdtempSync(join(tmpdir(), 'keymint-hostile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const PW = passwordFile(dir);

interface Probe {
  derivations: number;
  peakRssKiB: number;
  readBytes: number;
}

interface ProbedRun extends RunResult {
  probe: Probe;
  /** Peak memory as /usr/bin/time saw it from outside, KiB. */
  timeMaxRssKiB: number;
}

let runs = 0;
/** GNU time (Debian `time`) measures the peak memory from outside; without it, the probe's figure alone. */
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

/**
 * Runs keymint under /usr/bin/time (when there is one) with the probe. `stdin`: text, or a number of bytes of "A" to
 * write (as fast as the pipe takes them, stopping when keymint closes it).
 */
async function probed(
  args: readonly string[],
  options: { stdin?: string | number; cwd?: string } = {},
): Promise<ProbedRun> {
  const out = join(dir, `probe-${++runs}.json`);
  const command = [process.execPath, '--import', PROBE, BIN, ...args];
  const child = spawn(
    TIME ?? process.execPath,
    TIME === undefined ? command.slice(1) : ['-f', 'keymint-time-maxrss-kib %M', ...command],
    {
      cwd: options.cwd ?? dir,
      detached: true,
      env: { ...process.env, KEYMINT_DEBUG: '', KEYMINT_PROBE_OUT: out },
      stdio: [options.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    },
  );
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  if (typeof options.stdin === 'string') child.stdin?.end(options.stdin);
  if (typeof options.stdin === 'number') await feed(child.stdin as NonNullable<typeof child.stdin>, options.stdin);
  const { code, signal } = await closed;
  const text = Buffer.concat(stderr).toString('utf8');
  const timeLine = /^keymint-time-maxrss-kib (\d+)\n/m.exec(text);
  if (TIME !== undefined) expect(timeLine, `/usr/bin/time reported: ${text}`).not.toBeNull();
  const probe = JSON.parse(readFileSync(out, 'utf8')) as Probe;
  rmSync(out);
  return {
    // /usr/bin/time passes on keymint's exit code, and reports a signal in words.
    code,
    signal,
    stdout: Buffer.concat(stdout).toString('utf8'),
    stderr: text
      .replace(timeLine?.[0] ?? '', '')
      .replace(/^Command (exited with non-zero status|terminated by signal) .*\n/m, ''),
    probe,
    timeMaxRssKiB: timeLine === null ? probe.peakRssKiB : Number(timeLine[1]),
  };
}

/** Writes `total` bytes into a pipe, chunk by chunk, until they are all in or the reader is gone. */
async function feed(stream: NodeJS.WritableStream, total: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 'A');
  let gone = false;
  let wake: (() => void) | undefined;
  const stop = () => {
    gone = true;
    wake?.();
  };
  stream.on('error', stop);
  stream.on('close', stop);
  stream.on('drain', () => wake?.());
  for (let sent = 0; sent < total && !gone; sent += chunk.length) {
    if (!stream.write(chunk) && !gone) await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  if (!gone) stream.end();
}

/** Each entry's size, mode and change time: enough to see that a run wrote nothing (100 MB files are not read). */
function snapshot(where: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(where).map((name) => {
      const info = lstatSync(join(where, name));
      // A named pipe's times change as it is read: only its kind counts.
      return [
        name,
        info.isFile() ? `${info.size} ${info.mode.toString(8)} ${info.ctimeMs}` : `${info.mode.toString(8)}`,
      ];
    }),
  );
}

/** A refused input: the error contract (one line, exit code, no stack, nothing on stdout) and no PBKDF2. */
async function expectRefused(
  args: readonly string[],
  code: number,
  pattern: RegExp,
  options: { stdin?: string | number } = {},
): Promise<ProbedRun> {
  const before = snapshot(dir);
  const result = await probed(args, options);
  if (args.includes('--json')) {
    // --json: the error is one JSON object on stdout, and stderr stays empty.
    expect(result.code, result.stdout).toBe(code);
    expect(result.stderr).toBe('');
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string } };
    expect(error.code).toBe('ERR_INPUT_INVALID');
    expect(error.message).toMatch(pattern);
  } else {
    expectError(result, code, pattern);
  }
  expect(result.probe.derivations, `${args.join(' ')}: no PBKDF2 derivation was started`).toBe(0);
  expect(snapshot(dir), 'nothing was written').toEqual(before);
  return result;
}

const enc = new TextEncoder();
const JWK = nodeJwk('EC P-256', { kid: 'hostile', alg: 'ES256', use: 'sig' });
const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const unb64 = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as Record<string, unknown>;

/** A real PBES2 JWE of JWK under PASSWORD, made by panva/jose (not by keymint). */
async function flattened(p2c: number, p2sBytes = 16): Promise<Record<string, unknown>> {
  const jwe = await new FlattenedEncrypt(enc.encode(JSON.stringify(JWK)))
    .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM', cty: 'jwk+json' })
    .setKeyManagementParameters({ p2c, p2s: randomBytes(p2sBytes) })
    .encrypt(enc.encode(PASSWORD));
  return jwe as unknown as Record<string, unknown>;
}

/** The same JWE with its protected header changed (it no longer authenticates: only a reader that checks the header first refuses it for the right reason). */
function rewritten(
  jwe: Record<string, unknown>,
  change: (header: Record<string, unknown>) => Record<string, unknown>,
): string {
  return JSON.stringify({ ...jwe, protected: b64(change(unb64(jwe.protected as string))) }, null, 2);
}

const file = (name: string, content: string | Buffer) => writeFile(dir, name, content, 0o600);
const publicOf = (name: string) => ['public', '--password-file', PW, name];

describe('hostile JWE headers: refused before any key derivation', () => {
  it('controls: real files at p2c 1000 and at the bound 1000000, with an 8-byte salt, open with one derivation each', async () => {
    for (const [name, jwe] of [
      ['ok-1000.json', await flattened(1000)],
      ['ok-bound.json', await flattened(1_000_000)],
      ['ok-p2s8.json', await flattened(1000, 8)],
    ] as const) {
      file(name, JSON.stringify(jwe));
      const result = await probed(publicOf(name));
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ kty: 'EC', kid: 'hostile', x: JWK.x });
      expect(result.probe.derivations, `${name}: the probe sees the derivation`).toBe(1);
    }
  });

  it('p2c 1000001 in a real file that panva/jose opens: refused, exit 9', async () => {
    const jwe = await flattened(1_000_001);
    const { plaintext } = await flattenedDecrypt(jwe as never, enc.encode(PASSWORD), {
      keyManagementAlgorithms: ['PBES2-HS256+A128KW'],
      maxPBES2Count: 2_000_000,
    });
    expect(JSON.parse(Buffer.from(plaintext).toString('utf8'))).toEqual(JWK);
    file('p2c-1000001.json', JSON.stringify(jwe));
    await expectRefused(publicOf('p2c-1000001.json'), 9, /"p2c" 1000001 is above 1000000/);
  });

  it('p2c 2^31 in flattened, general and compact files, through every command that reads keys', async () => {
    const base = await flattened(1000);
    const p2c = 2 ** 31;
    const flat = file(
      'p2c-2e31.json',
      rewritten(base, (h) => ({ ...h, p2c })),
    );
    const { protected: prot, ...rest } = JSON.parse(readFileSync(join(dir, flat), 'utf8')) as Record<string, unknown>;
    const general = file(
      'p2c-2e31-general.json',
      JSON.stringify({
        protected: prot,
        recipients: [{ encrypted_key: rest.encrypted_key }],
        iv: rest.iv,
        ciphertext: rest.ciphertext,
        tag: rest.tag,
      }),
    );
    const compactReal = await new CompactEncrypt(enc.encode(JSON.stringify(JWK)))
      .setProtectedHeader({ alg: 'PBES2-HS256+A128KW', enc: 'A256GCM' })
      .setKeyManagementParameters({ p2c: 1000 })
      .encrypt(enc.encode(PASSWORD));
    const [head, ...parts] = compactReal.split('.');
    const compact = file('p2c-2e31.jwe', [b64({ ...unb64(head as string), p2c }), ...parts].join('.'));
    file('payload.txt', 'hello');
    const message = /"p2c" 2147483648 is above 1000000/;
    for (const name of [flat, general, compact]) await expectRefused(publicOf(name), 9, message);
    for (const args of [
      ['thumbprint', '--password-file', PW, flat],
      ['pem', '--no-password', '--insecure', '--password-file', PW, flat],
      ['sign', '--key', flat, '--password-file', PW, 'payload.txt'],
      ['jwt', '--key', compact, '--password-file', PW, '--iss', 'i', '--sub', 's', '--aud', 'a'],
      [
        'jwt',
        'client-assertion',
        '--key',
        general,
        '--password-file',
        PW,
        '--client-id',
        'c',
        '--token-endpoint',
        'https://as.example/token',
      ],
      ['keyset', 'add', 'set.json', '--password-file', PW, flat],
      ['verify', '--key', flat, '--password-file', PW, 'e30.e30.sig'],
      // no password at all: the header is checked before one is asked for
      ['public', '--json', flat],
    ]) {
      await expectRefused(args, 9, message);
    }
  });

  it.each([
    ['0', 0],
    ['-1', -1],
    ['1.5', 1.5],
    ['a string', '600000'],
    ['1e21', 1e21],
    ['null', null],
  ])('p2c %s: refused', async (_name, p2c) => {
    const name = file(
      `p2c-${String(_name).replace(/\W/g, '_')}.json`,
      rewritten(await flattened(1000), (h) => ({ ...h, p2c })),
    );
    await expectRefused(publicOf(name), 9, /"p2c" is missing or not a positive whole number/);
  });

  it.each([
    ['7 bytes', randomBytes(7).toString('base64url')],
    ['1 byte', Buffer.from([1]).toString('base64url')],
    ['empty', ''],
    ['missing', undefined],
    ['not base64url', '!!!!!!!!!!!!!!!!'],
    ['a number', 12345678],
  ])('p2s %s: refused', async (label, p2s) => {
    const name = file(
      `p2s-${label.replace(/\W/g, '_')}.json`,
      rewritten(await flattened(1000), ({ p2s: _old, ...h }) => (p2s === undefined ? h : { ...h, p2s })),
    );
    await expectRefused(publicOf(name), 9, /"p2s" salt is missing or shorter than 8 bytes/);
  });

  it.each([
    'PBES2-HS999+A128KW',
    'PBES2-HS256+A999KW',
    'dir',
    'A128KW',
    'RSA-OAEP-256',
    'ECDH-ES',
    'none',
    'pbes2-hs256+a128kw',
  ])('alg %s: refused', async (alg) => {
    const name = file(
      `alg-${alg.replace(/\W/g, '_')}.json`,
      rewritten(await flattened(1000), (h) => ({ ...h, alg })),
    );
    await expectRefused(publicOf(name), 9, /"alg" .* is not a password algorithm/);
  });

  it.each(['A512GCM', 'XC20P', 'A128CBC', 'A256gcm', 'none'])('enc %s: refused', async (encValue) => {
    const name = file(
      `enc-${encValue.replace(/\W/g, '_')}.json`,
      rewritten(await flattened(1000), (h) => ({ ...h, enc: encValue })),
    );
    await expectRefused(publicOf(name), 9, /"enc" .* is not supported/);
  });

  it('zip DEF, in the protected or the unprotected header: refused, nothing inflated', async () => {
    const base = await flattened(1000);
    const inProtected = file(
      'zip-protected.json',
      rewritten(base, (h) => ({ ...h, zip: 'DEF' })),
    );
    const inUnprotected = file('zip-unprotected.json', JSON.stringify({ ...base, unprotected: { zip: 'DEF' } }));
    for (const name of [inProtected, inUnprotected]) await expectRefused(publicOf(name), 9, /compressed \("zip"\)/);
  });

  it('crit extensions: refused', async () => {
    const name = file(
      'crit.json',
      rewritten(await flattened(1000), (h) => ({ ...h, crit: ['exp'], exp: 1 })),
    );
    await expectRefused(publicOf(name), 9, /"crit"/);
  });

  it('a general JWE with 10,000 recipients (or none): refused without trying any of them', async () => {
    const base = await flattened(1000);
    const recipients = Array.from({ length: 10_000 }, () => ({ encrypted_key: base.encrypted_key }));
    const many = file(
      'recipients-10000.json',
      JSON.stringify({
        protected: base.protected,
        recipients,
        iv: base.iv,
        ciphertext: base.ciphertext,
        tag: base.tag,
      }),
    );
    expect(
      readFileSync(join(dir, many)).length,
      'under the 1 MiB input bound: the recipients are what is refused',
    ).toBeLessThan(MiB);
    await expectRefused(publicOf(many), 9, /has 10000 recipients: a key file has exactly one/);
    const none = file(
      'recipients-0.json',
      JSON.stringify({
        protected: base.protected,
        recipients: [],
        iv: base.iv,
        ciphertext: base.ciphertext,
        tag: base.tag,
      }),
    );
    await expectRefused(publicOf(none), 9, /has 0 recipients/);
  });
});

describe('huge inputs: refused with a size error, without reading them whole, in bounded memory', () => {
  let baseline: Probe & { timeMaxRssKiB: number };
  const figures: Record<string, { extraPeakMiB: number; extraReadMiB: number; timeExtraPeakMiB: number }> = {};

  function expectBounded(name: string, result: ProbedRun, bounds: { peakMiB: number; readMiB: number }): void {
    const figure = {
      extraPeakMiB: (result.probe.peakRssKiB - baseline.peakRssKiB) / 1024,
      extraReadMiB: (result.probe.readBytes - baseline.readBytes) / MiB,
      timeExtraPeakMiB: (result.timeMaxRssKiB - baseline.timeMaxRssKiB) / 1024,
    };
    figures[name] = figure;
    expect(figure.extraPeakMiB, `${name}: peak memory over a small input's (probe)`).toBeLessThan(bounds.peakMiB);
    expect(figure.timeExtraPeakMiB, `${name}: peak memory over a small input's (/usr/bin/time)`).toBeLessThan(
      bounds.peakMiB,
    );
    expect(figure.extraReadMiB, `${name}: bytes read over a small input's`).toBeLessThan(bounds.readMiB);
  }

  it('baseline: a small key file', async () => {
    file('small.json', JSON.stringify(await flattened(1000)));
    const result = await probed(publicOf('small.json'));
    expect(result.code, result.stderr).toBe(0);
    baseline = { ...result.probe, timeMaxRssKiB: result.timeMaxRssKiB };
    expect(baseline.peakRssKiB).toBeGreaterThan(0);
  });

  it('a 100 MB key file: refused by its size before it is read', async () => {
    const name = 'huge.json';
    const fd = openSync(join(dir, name), 'w', 0o600);
    const chunk = Buffer.alloc(MiB, 'A');
    chunk.write('{"protected":"', 0);
    for (let written = 0; written < HUGE; written += chunk.length)
      writeSync(fd, chunk, 0, Math.min(chunk.length, HUGE - written));
    closeSync(fd);
    try {
      const result = await expectRefused(
        publicOf(name),
        9,
        /key file huge\.json \(100000000 bytes\) is larger than the 1048576 bytes keymint reads/,
      );
      expectBounded('100 MB file', result, { peakMiB: 16, readMiB: 1 });
      // The same file as a password file and as a --from-pem input.
      const asPassword = await expectRefused(
        ['public', '--password-file', name, 'small.json'],
        9,
        /--password-file huge\.json \(100000000 bytes\) is larger than/,
      );
      expectBounded('100 MB password file', asPassword, { peakMiB: 16, readMiB: 1 });
      const asPem = await expectRefused(
        ['create', '--from-pem', name, 'p.pub.json', 'p.json'],
        9,
        /--from-pem huge\.json \(100000000 bytes\) is larger than/,
      );
      expectBounded('100 MB --from-pem', asPem, { peakMiB: 16, readMiB: 1 });
    } finally {
      rmSync(join(dir, name));
    }
  });

  it('100 MB on standard input: refused after the first MiB', async () => {
    const result = await expectRefused(
      ['public', '--password-file', PW, '-'],
      9,
      /key file on standard input is larger than the 1048576 bytes keymint reads/,
      { stdin: HUGE },
    );
    expectBounded('100 MB on stdin', result, { peakMiB: 16, readMiB: 4 });
  });

  it('100 MB through a named pipe given as the key file: refused while reading', async () => {
    const fifo = join(dir, 'pipe.json');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const writer = spawn('sh', ['-c', `head -c ${HUGE} /dev/zero > "$0"`, fifo], { stdio: 'ignore' });
    try {
      const result = await expectRefused(
        publicOf('pipe.json'),
        9,
        /key file pipe\.json is larger than the 1048576 bytes keymint reads/,
      );
      expectBounded('100 MB through a FIFO', result, { peakMiB: 16, readMiB: 4 });
    } finally {
      writer.kill('SIGKILL');
      rmSync(fifo);
    }
  });

  it('a 100 MB payload on standard input to sign: refused at its 16 MiB bound', async () => {
    file('signer.json', JSON.stringify(JWK));
    const result = await expectRefused(
      ['sign', '--key', 'signer.json', '-'],
      9,
      /payload on standard input is larger than the 16777216 bytes keymint reads/,
      { stdin: HUGE },
    );
    expectBounded('100 MB payload on stdin', result, { peakMiB: 48, readMiB: 20 });
    console.log(
      `hostile inputs, memory and reads over a small input's (MiB): ${JSON.stringify(figures)}; baseline peak ${(baseline.peakRssKiB / 1024).toFixed(1)} MiB`,
    );
  });
});

describe('deeply nested JSON', () => {
  const DEPTH = 150_000;
  const nestedObject = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
  const nestedArray = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

  it('a key file that is only nesting, as an object or an array: refused before parsing, exit 9', async () => {
    file('deep-object.json', nestedObject(DEPTH));
    file('deep-array.json', `[${nestedArray(DEPTH)}]`);
    await expectRefused(publicOf('deep-object.json'), 9, /deep-object\.json nests JSON more than 32 levels deep/);
    await expectRefused(publicOf('deep-array.json'), 9, /deep-array\.json nests JSON more than 32 levels deep/);
    await expectRefused(['keyset', 'list', 'deep-object.json'], 9, /deep-object\.json/);
  });

  it('a JWE whose protected header is deeply nested: refused before any derivation', async () => {
    const base = await flattened(1000);
    const name = file('deep-header.json', JSON.stringify({ ...base, protected: b64(`{"x":${nestedArray(60_000)}}`) }));
    await expectRefused(publicOf(name), 9, /nests JSON more than 32 levels deep/);
  });

  // A JWK or a JWK Set with a deeply nested extra member would exhaust the stack when written back
  // out: keymint refuses JSON nested deeper than any key file before it parses it.
  const deepJwk = () =>
    JSON.stringify({ ...Object.fromEntries(Object.entries(JWK).filter(([k]) => k !== 'd')), ext: '@' }).replace(
      '"@"',
      nestedObject(100_000),
    );
  const deepSet = () => `{"x-other":${nestedObject(100_000)},"keys":[]}`;

  it('a JWK or a JWK Set with a deeply nested member: a typed input error (exit 9), one line, nothing written', async () => {
    file('deep-jwk.json', deepJwk());
    file('deep-set.json', deepSet());
    file('plain.pub.json', JSON.stringify(Object.fromEntries(Object.entries(JWK).filter(([k]) => k !== 'd'))));
    for (const args of [
      publicOf('deep-jwk.json'),
      publicOf('deep-set.json'),
      ['keyset', 'add', 'deep-set.json', 'plain.pub.json'],
      ['keyset', 'add', 'new-set.json', 'deep-jwk.json'],
    ]) {
      const before = snapshot(dir);
      const result = await probed(args);
      expect(result.signal, 'not killed by a signal').toBeNull();
      expect(result.stderr, 'one line').toMatch(/^keymint: [^\n]+nests JSON more than 32 levels deep[^\n]*\n$/);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(9);
      expect(snapshot(dir)).toEqual(before);
    }
  });

  it('leaves no stray file behind', () => {
    expect(listDir(dir).filter((name) => name.includes('.keymint-') || name.endsWith('.lock'))).toEqual([]);
  });
});
