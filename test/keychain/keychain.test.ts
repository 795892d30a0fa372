import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PYTHON, expectOk, startKeyringSession, toolStatus, type KeyringSession, newKeyPair } from '@keymint/test-kit';
import {
  BIN,
  EXIT,
  expectError,
  expectFailure,
  expectKeyPair,
  keymint,
  listDir,
  modeOf,
  privateMembersIn,
  publicPart,
  readJson,
  runProgram,
  snapshot,
  tempDir,
  writeFile,
  type Jwk,
} from '../helpers.js';
import { startKeyutilsRing, uniqueService, type KeyutilsRing } from './session.js';

const DEAD_BUS = 'unix:path=/tmp/keymint-e2e-no-bus/bus';

interface Reference {
  type: string;
  version: number;
  backend: string;
  location: Record<string, string>;
  jwk: Jwk;
}

/** Verifies a compact JWS with jose, not with keymint's code. */
async function verifies(jws: string, jwk: Jwk): Promise<boolean> {
  try {
    await compactVerify(jws.trim(), await importJWK(jwk as Parameters<typeof importJWK>[0], jwk.alg as string));
    return true;
  } catch {
    return false;
  }
}

/** Runs keymint under a real terminal (Python's pty) and answers its y/N question with `answer`. */
async function keymintAnswering(
  args: readonly string[],
  answer: string,
  options: { cwd: string; env: Record<string, string> },
): Promise<{ output: string; status: number }> {
  const driver = `
import json, os, pty, select, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
out, answered, deadline = b"", False, time.monotonic() + 30
while time.monotonic() < deadline:
    r, _, _ = select.select([fd], [], [], 0.05)
    if r:
        try:
            data = os.read(fd, 4096)
        except OSError:
            break
        if not data:
            break
        out += data
    if not answered and b"[y/N] " in out:
        os.write(fd, sys.argv[1].encode() + b"\\r")
        answered = True
else:
    os.kill(pid, 9)
_, status = os.waitpid(pid, 0)
print(json.dumps({"output": out.decode("utf8", "replace"), "status": os.waitstatus_to_exitcode(status)}))
`;
  const result = await runProgram(PYTHON, ['-c', driver, answer, process.execPath, BIN, ...args], options);
  if (result.code !== 0) throw new Error(`pty driver failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as { output: string; status: number };
}

describe('keymint --backend keychain on the Secret Service (GNOME Keyring in a private D-Bus session)', () => {
  let session: KeyringSession;
  beforeAll(async () => {
    session = await startKeyringSession();
  });
  afterAll(() => session?.stop());

  const km = (args: readonly string[], cwd: string, env: Record<string, string> = {}) =>
    keymint(args, { cwd, env: { ...session.env, ...env } });
  const secretTool = (args: readonly string[], input?: string) =>
    toolStatus('secret-tool', args, { env: session.env, input, timeoutMs: 30_000 });
  const create = async (service: string, extra: readonly string[] = []) => {
    const dir = tempDir();
    const result = await km(
      ['create', '--backend', 'keychain', '--keychain-service', service, ...extra, 'key.pub.json', 'key.json'],
      dir,
    );
    expectOk(result);
    return {
      dir,
      result,
      pub: readJson<Jwk>(join(dir, 'key.pub.json')),
      ref: readJson<Reference>(join(dir, 'key.json')),
    };
  };

  it('create: the public JWK (0644) and a key reference without key material (0600); the keychain holds the private JWK', async () => {
    const service = uniqueService('create');
    const { dir, result, pub, ref } = await create(service);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'Your private key has been saved in key.json (a reference to the key in the keychain backend).',
    );
    expect(listDir(dir)).toEqual(['key.json', 'key.pub.json']);
    expect(modeOf(join(dir, 'key.pub.json'))).toBe(0o644);
    expect(modeOf(join(dir, 'key.json'))).toBe(0o600);
    expect(pub).toMatchObject({ kty: 'EC', crv: 'P-256', use: 'sig', alg: 'ES256' });
    expect(ref).toEqual({
      type: 'keymint-key-reference',
      version: 1,
      backend: 'keychain',
      location: { service, account: pub.kid, store: 'secret-service', thumbprint: pub.kid },
      jwk: pub,
    });
    expect(privateMembersIn(ref.jwk)).toEqual([]);
    expect(readFileSync(join(dir, 'key.json'), 'utf8')).not.toMatch(/"(d|p|q|k)"\s*:/);
    // An independent look with secret-tool: the item under service and account holds the private JWK.
    const found = secretTool(['lookup', '--', 'service', service, 'username', pub.kid as string]);
    expect(found.status).toBe(0);
    const secret = JSON.parse(found.stdout) as Jwk;
    expect(privateMembersIn(secret)).toEqual(['d']);
    expect(publicPart(secret)).toEqual(pub);
    expectKeyPair(secret, pub);
    const search = secretTool(['search', '--all', '--', 'service', service]);
    expect(search.stderr).toContain(`attribute.service = ${service}`);
    expect(search.stderr).toContain(`attribute.username = ${pub.kid as string}`);
  });

  it('create --keychain-account --json, RSA: the account is the one given; JSON says where the key is', async () => {
    const service = uniqueService('json');
    const dir = tempDir();
    const result = await km(
      [
        'create',
        '--backend',
        'keychain',
        '--keychain-service',
        service,
        '--keychain-account',
        'ci-signer',
        '--kty',
        'RSA',
        '--size',
        '3072',
        '--json',
        'rsa.pub.json',
        'rsa.json',
      ],
      dir,
    );
    expectOk(result);
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    expect(json).toMatchObject({
      backend: 'keychain',
      kty: 'RSA',
      size: 3072,
      privateKey: 'reference',
      files: { public: 'rsa.pub.json', private: 'rsa.json' },
    });
    expect(readJson<Reference>(join(dir, 'rsa.json')).location).toMatchObject({
      service,
      account: 'ci-signer',
      store: 'secret-service',
    });
    const secret = JSON.parse(secretTool(['lookup', '--', 'service', service, 'username', 'ci-signer']).stdout) as Jwk;
    expect(publicPart(secret)).toEqual(readJson<Jwk>(join(dir, 'rsa.pub.json')));
  });

  it('keymint sign uses the key through its reference file', async () => {
    const service = uniqueService('sign');
    const { dir, pub } = await create(service, ['--kty', 'OKP', '--crv', 'Ed25519']);
    writeFile(dir, 'payload.txt', 'hello keychain');
    const signed = await km(['sign', '--key', 'key.json', 'payload.txt'], dir);
    expectOk(signed);
    expect(await verifies(signed.stdout, pub)).toBe(true);
  });

  it('keymint keychain keys lists service, account, kid and key type, in text and JSON', async () => {
    const service = uniqueService('keys');
    const a = await create(service, ['--kty', 'EC', '--crv', 'P-384']);
    const b = await create(service, ['--kty', 'OKP', '--keychain-account', 'ed']);
    const text = await km(['keychain', 'keys', '--keychain-service', service], a.dir);
    expectOk(text);
    expect(text.stderr).toBe(`2 keys under service "${service}" in the Secret Service.\n`);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^KID\s+KEY\s+ALG\s+USE\s+ID$/);
    expect(lines.slice(1).map((l) => l.split(/\s{2,}/))).toEqual(
      [
        [a.pub.kid, 'EC P-384', 'ES384', 'sig', a.pub.kid],
        [b.pub.kid, 'OKP Ed25519', 'EdDSA', 'sig', 'ed'],
      ].sort((x, y) => ((x[4] as string) < (y[4] as string) ? -1 : 1)),
    );
    // The old name is an alias of keys list for one release: the same output.
    expect(await km(['keys', 'list', '--backend', 'keychain', '--keychain-service', service], a.dir)).toEqual(text);
    const json = await km(['keychain', 'keys', '--keychain-service', service, '--json'], a.dir);
    expectOk(json);
    const listing = JSON.parse(json.stdout) as {
      backend: string;
      service: string;
      store: string;
      keys: Array<Record<string, unknown>>;
      warnings: string[];
    };
    expect(listing).toMatchObject({ backend: 'keychain', service, store: 'secret-service', warnings: [] });
    expect(listing.keys.find((k) => k.id === 'ed')).toEqual({
      id: 'ed',
      name: `service "${service}", account "ed" in the Secret Service`,
      status: 'ok',
      kid: b.pub.kid,
      kty: 'OKP',
      crv: 'Ed25519',
      size: null,
      alg: 'EdDSA',
      use: 'sig',
      reference: {
        backend: 'keychain',
        location: { service, account: 'ed', store: 'secret-service', thumbprint: b.pub.kid },
      },
      details: { service, account: 'ed', store: 'secret-service', thumbprint: b.pub.kid },
    });
    const empty = await km(['keychain', 'keys', '--keychain-service', uniqueService('empty'), '--json'], a.dir);
    expectOk(empty);
    expect(JSON.parse(empty.stdout)).toMatchObject({ keys: [] });
  });

  it('keymint keychain delete: needs --force without a terminal; deletes by reference file or account', async () => {
    const service = uniqueService('delete');
    const { dir, pub } = await create(service);
    const refused = await km(['keychain', 'delete', 'key.json'], dir);
    expectError(refused, EXIT.USAGE, /needs confirmation and there is no terminal to ask on; give --force/);
    const refusedJson = await km(['keychain', 'delete', 'key.json', '--json'], dir);
    expect(refusedJson.code).toBe(EXIT.USAGE);
    expect(JSON.parse(refusedJson.stdout)).toMatchObject({
      error: { code: 'ERR_USAGE', message: expect.stringContaining('--json never prompts') },
    });
    expect(secretTool(['lookup', '--', 'service', service, 'username', pub.kid as string]).status).toBe(0);

    const deleted = await km(['keychain', 'delete', 'key.json', '--force'], dir);
    expectOk(deleted);
    expect(deleted.stderr).toContain(
      `Deleted the EC P-256 key ${pub.kid as string} (service "${service}", account "${pub.kid as string}" in the Secret Service).`,
    );
    expect(deleted.stderr).toContain('key.json now refers to a key that is gone');
    expect(secretTool(['lookup', '--', 'service', service, 'username', pub.kid as string]).status).not.toBe(0);
    expect(listDir(dir)).toEqual(['key.json', 'key.pub.json']);

    const other = await create(service, ['--keychain-account', 'by-account']);
    const byAccount = await km(
      ['keychain', 'delete', 'by-account', '--keychain-service', service, '--force', '--json'],
      other.dir,
    );
    expectOk(byAccount);
    expect(JSON.parse(byAccount.stdout)).toMatchObject({
      deleted: true,
      outcome: 'deleted',
      backend: 'keychain',
      key: {
        id: 'by-account',
        kid: other.pub.kid,
        kty: 'EC',
        details: { service, account: 'by-account', store: 'secret-service' },
      },
      reference: null,
    });
    // Nothing of keymint's is left under the service, not even its index entry.
    const left = secretTool(['search', '--all', '--', 'service', service]);
    expect(`${left.stdout}${left.stderr}`).toBe('');
  });

  it('keymint keys describe --backend keychain says which service and store it uses', async () => {
    const service = uniqueService('describe');
    const described = await km(
      ['keys', 'describe', '--backend', 'keychain', '--keychain-service', service, '--json'],
      tempDir(),
    );
    expectOk(described);
    expect(JSON.parse(described.stdout)).toEqual({
      backend: 'keychain',
      service,
      store: 'secret-service',
      fallback: null,
    });
    const text = await km(['keys', 'describe', '--backend', 'keychain', '--keychain-service', service], tempDir());
    expect(text.stderr).toBe(`service "${service}" in the Secret Service\n`);
  });

  it('keymint keychain delete asks on a terminal: "n" keeps the key, "y" deletes it', async () => {
    const service = uniqueService('confirm');
    const { dir, pub } = await create(service);
    const kept = await keymintAnswering(['keychain', 'delete', 'key.json'], 'n', { cwd: dir, env: { ...session.env } });
    expect(kept.output).toContain(
      `Delete the EC P-256 key ${pub.kid as string} (service "${service}", account "${pub.kid as string}" in the Secret Service)? It cannot be recovered. [y/N]`,
    );
    expect(kept.output).toContain('Not deleted.');
    expect(kept.status).toBe(0);
    expect(secretTool(['lookup', '--', 'service', service, 'username', pub.kid as string]).status).toBe(0);
    const gone = await keymintAnswering(['keychain', 'delete', 'key.json'], 'y', { cwd: dir, env: { ...session.env } });
    expect(gone.output).toContain('Deleted the EC P-256 key');
    expect(gone.status).toBe(0);
    expect(secretTool(['lookup', '--', 'service', service, 'username', pub.kid as string]).status).not.toBe(0);
  });

  describe('errors, each one line with its exit code', () => {
    it('existing entry: a second create with the same --keychain-account fails (15) and writes nothing', async () => {
      const service = uniqueService('exists');
      const first = await create(service, ['--keychain-account', 'same']);
      const dir = tempDir();
      await expectFailure(
        dir,
        [
          'create',
          '--backend',
          'keychain',
          '--keychain-service',
          service,
          '--keychain-account',
          'same',
          'b.pub.json',
          'b.json',
        ],
        EXIT.KEY_EXISTS,
        [
          /the keychain already holds an entry under service "keymint-e2e-exists-[0-9a-f]+", account "same" in the Secret Service/,
          /--force/,
        ],
        { env: { ...session.env } },
      );
      // The first key is untouched and still signs.
      const secret = JSON.parse(secretTool(['lookup', '--', 'service', service, 'username', 'same']).stdout) as Jwk;
      expect(publicPart(secret)).toEqual(first.pub);
      // --force replaces the entry (and the files).
      const replaced = await km(
        [
          'create',
          '--backend',
          'keychain',
          '--keychain-service',
          service,
          '--keychain-account',
          'same',
          '--force',
          'key.pub.json',
          'key.json',
        ],
        first.dir,
      );
      expectOk(replaced);
      const now = JSON.parse(secretTool(['lookup', '--', 'service', service, 'username', 'same']).stdout) as Jwk;
      expect(publicPart(now)).toEqual(readJson<Jwk>(join(first.dir, 'key.pub.json')));
      expect(publicPart(now)).not.toEqual(first.pub);
    });

    it('missing entry: delete, then sign with the reference file (16)', async () => {
      const service = uniqueService('missing');
      const { dir, pub } = await create(service);
      expectOk(await km(['keychain', 'delete', 'key.json', '--force'], dir));
      writeFile(dir, 'payload.txt', 'x');
      const result = await km(['sign', '--key', 'key.json', 'payload.txt'], dir);
      expectError(
        result,
        EXIT.KEY_NOT_FOUND,
        new RegExp(
          `no key in the keychain under service "${service}", account "${pub.kid as string}" in the Secret Service: it was deleted`,
        ),
      );
      expectError(
        await km(['keychain', 'delete', 'key.json', '--force'], dir),
        EXIT.KEY_NOT_FOUND,
        /no key in the keychain/,
      );
      expectError(
        await km(['keychain', 'delete', 'no-such-account', '--force'], dir),
        EXIT.KEY_NOT_FOUND,
        /account "no-such-account"/,
      );
    });

    it('a stored secret that is not a JWK (written with secret-tool store): sign fails (9), keys shows it', async () => {
      const service = uniqueService('garbage');
      const { dir, pub } = await create(service);
      expect(
        secretTool(
          ['store', '--label=not a key', '--', 'service', service, 'username', pub.kid as string],
          'hunter2 is not a JWK',
        ).status,
      ).toBe(0);
      writeFile(dir, 'payload.txt', 'x');
      const result = await km(['sign', '--key', 'key.json', 'payload.txt'], dir);
      const line = expectError(result, EXIT.INPUT_INVALID, /does not hold a private JWK: its secret is not JSON/);
      expect(line).not.toContain('hunter2');
      const keys = await km(['keychain', 'keys', '--keychain-service', service], dir);
      expectOk(keys);
      expect(keys.stdout).toMatch(/\(not a key keymint uses\)/);
    });

    it('no session bus: DBUS_SESSION_BUS_ADDRESS at a dead socket, Secret Service asked for (5), nothing written', async () => {
      const dir = tempDir();
      const result = await expectFailure(
        dir,
        ['create', '--backend', 'keychain', '--keychain-store', 'secret-service', 'k.pub.json', 'k.json'],
        EXIT.BACKEND_UNAVAILABLE,
        [
          /^keymint: no keychain available: no D-Bus session bus for the Secret Service \(nothing answers at unix:path=\/tmp\/keymint-e2e-no-bus\/bus/,
          /dbus-run-session/,
          /gnome-keyring-daemon --unlock/,
        ],
        { env: { DBUS_SESSION_BUS_ADDRESS: DEAD_BUS } },
      );
      expect(result.stderr).not.toMatch(/internal error/);
      expectError(
        await keymint(['keychain', 'keys', '--keychain-store', 'secret-service'], {
          cwd: dir,
          env: { DBUS_SESSION_BUS_ADDRESS: DEAD_BUS },
        }),
        EXIT.BACKEND_UNAVAILABLE,
        /no keychain available/,
      );
    });

    it('no session bus: DBUS_SESSION_BUS_ADDRESS unset and nothing to autolaunch (5)', async () => {
      const dir = tempDir();
      const emptyRuntime = tempDir();
      const before = snapshot(dir);
      const result = await runProgram(
        'env',
        [
          '-u',
          'DBUS_SESSION_BUS_ADDRESS',
          '-u',
          'DISPLAY',
          `XDG_RUNTIME_DIR=${emptyRuntime}`,
          process.execPath,
          BIN,
          'create',
          '--backend',
          'keychain',
          '--keychain-store',
          'secret-service',
          'k.pub.json',
          'k.json',
        ],
        { cwd: dir },
      );
      expectError(
        result,
        EXIT.BACKEND_UNAVAILABLE,
        /^keymint: no keychain available: no D-Bus session bus for the Secret Service \(DBUS_SESSION_BUS_ADDRESS is not set: /,
        /dbus-run-session/,
      );
      expect(snapshot(dir)).toEqual(before);
    });

    it('no keychain at all: no bus, and the kernel keyring refuses too (5)', async () => {
      const dir = tempDir();
      const result = await runProgram(
        'keyctl',
        [
          'session',
          '-',
          'sh',
          '-c',
          'keyctl setperm @s 0x0b0b0000 && exec "$0" "$@"',
          process.execPath,
          BIN,
          'create',
          '--backend',
          'keychain',
          '--keychain-service',
          uniqueService('none'),
          'k.pub.json',
          'k.json',
        ],
        { cwd: dir, env: { DBUS_SESSION_BUS_ADDRESS: DEAD_BUS } },
      );
      expectError(
        { ...result, stderr: result.stderr.replace(/^Joined session keyring: \d+\n/m, '') },
        EXIT.BACKEND_UNAVAILABLE,
        /^keymint: no keychain available: no D-Bus session bus for the Secret Service \(.*\), and the kernel keyring \(keyutils\) refused access/,
        /keyctl session -/,
      );
      expect(listDir(dir)).toEqual([]);
    });

    it('an oct key stays in the keychain: only its reference file is written; a bad --keychain-store is a usage error (2)', async () => {
      const service = uniqueService('oct');
      const dir = tempDir();
      const made = await km(
        [
          'create',
          '--backend',
          'keychain',
          '--keychain-service',
          service,
          '--keychain-account',
          'hmac',
          '--kty',
          'oct',
          'k.pub.json',
          'k.json',
        ],
        dir,
      );
      expect(made.code, made.stderr).toBe(0);
      expect(made.stderr).toMatch(/k\.pub\.json was not written/);
      expect(listDir(dir)).toEqual(['k.json']);
      const reference = JSON.parse(readFileSync(join(dir, 'k.json'), 'utf8'));
      expect(reference).toMatchObject({ backend: 'keychain', jwk: { kty: 'oct', use: 'sig', alg: 'HS256' } });
      expect(JSON.stringify(reference)).not.toMatch(/"k":/);
      const stored = secretTool(['lookup', '--', 'service', service, 'username', 'hmac']);
      expect(JSON.parse(stored.stdout)).toMatchObject({ kty: 'oct', alg: 'HS256' });
      expect(Buffer.from(JSON.parse(stored.stdout).k, 'base64url')).toHaveLength(32);
      expect((await km(['keychain', 'delete', 'k.json', '--force'], dir)).code).toBe(0);
      await expectFailure(
        dir,
        ['create', '--backend', 'keychain', '--keychain-store', 'wallet', 'k.pub.json', 'k.json'],
        EXIT.USAGE,
        [/--keychain-store "wallet" is not a store: use secret-service or keyutils/],
        { env: { ...session.env } },
      );
      expectError(await km(['keychain', 'keys', '--keychain-store', 'wallet'], dir), EXIT.USAGE, /is not a store/);
    });

    it('a file that is not a keychain reference is refused by delete (9)', async () => {
      const dir = tempDir();
      writeFile(dir, 'plain.json', JSON.stringify({ kty: 'oct', k: 'AAAAAAAAAAAAAAAAAAAAAA' }));
      const jwk = newKeyPair('ec', { namedCurve: 'prime256v1' }).publicJwk;
      writeFile(
        dir,
        'hsm.json',
        JSON.stringify({
          type: 'keymint-key-reference',
          version: 1,
          backend: 'pkcs11',
          location: { uri: 'pkcs11:object=k' },
          jwk,
        }),
      );
      expectError(
        await km(['keychain', 'delete', 'plain.json', '--force'], dir),
        EXIT.INPUT_INVALID,
        /plain.json is not a key reference/,
      );
      expectError(
        await km(['keychain', 'delete', 'hsm.json', '--force'], dir),
        EXIT.INPUT_INVALID,
        /refers to a key in the pkcs11 backend, not in the keychain/,
      );
    });
  });
});

describe('keymint --backend keychain on a locked keyring', () => {
  let session: KeyringSession;
  beforeAll(async () => {
    session = await startKeyringSession();
  });
  afterAll(() => session?.stop());

  it('the keychain is locked and cannot be unlocked without a prompt (17): sign, create, keys, delete', async () => {
    const dir = tempDir();
    const env = { ...session.env };
    expectOk(await keymint(['create', '--backend', 'keychain', 'key.pub.json', 'key.json'], { cwd: dir, env }));
    session.lock();
    writeFile(dir, 'payload.txt', 'x');
    expectError(
      await keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir, env }),
      EXIT.BACKEND_LOCKED,
      /^keymint: the keychain is locked and cannot be unlocked without a prompt \(reading service "keymint", account "[^"]+" in the Secret Service: .*prompt was dismissed\); unlock it first/,
    );
    await expectFailure(
      dir,
      ['create', '--backend', 'keychain', 'b.pub.json', 'b.json'],
      EXIT.BACKEND_LOCKED,
      [/the keychain is locked/],
      { env },
    );
    expectError(await keymint(['keychain', 'keys'], { cwd: dir, env }), EXIT.BACKEND_LOCKED, /the keychain is locked/);
    expectError(
      await keymint(['keychain', 'delete', 'key.json', '--force'], { cwd: dir, env }),
      EXIT.BACKEND_LOCKED,
      /the keychain is locked/,
    );
  });
});

describe('keymint --backend keychain on the kernel keyring (keyutils, a fresh session keyring)', () => {
  let ring: KeyutilsRing;
  beforeAll(async () => {
    ring = await startKeyutilsRing();
  });
  afterAll(() => ring?.stop());

  // No bus in these runs: only the kernel keyring is there.
  const env = { DBUS_SESSION_BUS_ADDRESS: DEAD_BUS };

  it('create --keychain-store keyutils, look with keyctl, list, sign, delete', async () => {
    const service = uniqueService('keyutils');
    const dir = tempDir();
    expectOk(
      await ring.keymint(
        [
          'create',
          '--backend',
          'keychain',
          '--keychain-store',
          'keyutils',
          '--keychain-service',
          service,
          '--kty',
          'EC',
          '--crv',
          'P-521',
          'key.pub.json',
          'key.json',
        ],
        { cwd: dir, env },
      ),
    );
    const pub = readJson<Jwk>(join(dir, 'key.pub.json'));
    const ref = readJson<Reference>(join(dir, 'key.json'));
    expect(modeOf(join(dir, 'key.json'))).toBe(0o600);
    expect(ref.location).toEqual({ service, account: pub.kid, store: 'keyutils', thumbprint: pub.kid });
    expect(privateMembersIn(ref.jwk)).toEqual([]);
    // An independent look with keyctl: the library names the kernel key keyring:<account>@<service>.
    const id = ring.keyctl(['search', '@s', 'user', `keyring:${pub.kid as string}@${service}`]);
    expect(id.status, id.stderr).toBe(0);
    const secret = JSON.parse(ring.keyctl(['pipe', id.stdout.trim()]).stdout) as Jwk;
    expect(publicPart(secret)).toEqual(pub);
    expectKeyPair(secret, pub);

    const keys = await ring.keymint(
      ['keychain', 'keys', '--keychain-store', 'keyutils', '--keychain-service', service, '--json'],
      { cwd: dir, env },
    );
    expectOk(keys);
    expect(JSON.parse(keys.stdout)).toMatchObject({
      service,
      store: 'keyutils',
      keys: [{ id: pub.kid, kid: pub.kid, kty: 'EC', crv: 'P-521', status: 'ok', details: { account: pub.kid } }],
    });

    writeFile(dir, 'payload.txt', 'hello kernel');
    const signed = await ring.keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir, env });
    expectOk(signed);
    expect(await verifies(signed.stdout, pub)).toBe(true);

    expectOk(await ring.keymint(['keychain', 'delete', 'key.json', '--force'], { cwd: dir, env }));
    expect(ring.keyctl(['search', '@s', 'user', `keyring:${pub.kid as string}@${service}`]).status).not.toBe(0);
    expectError(
      await ring.keymint(['sign', '--key', 'key.json', 'payload.txt'], { cwd: dir, env }),
      EXIT.KEY_NOT_FOUND,
      /in the kernel keyring: it was deleted/,
    );
  });

  it('without --keychain-store and without a bus, the key goes to the kernel keyring, and the reference says so', async () => {
    const service = uniqueService('fallback');
    const dir = tempDir();
    expectOk(
      await ring.keymint(
        ['create', '--backend', 'keychain', '--keychain-service', service, 'key.pub.json', 'key.json'],
        { cwd: dir, env },
      ),
    );
    expect(readJson<Reference>(join(dir, 'key.json')).location.store).toBe('keyutils');
    const again = await ring.keymint(
      [
        'create',
        '--backend',
        'keychain',
        '--keychain-service',
        service,
        '--keychain-account',
        readJson<Jwk>(join(dir, 'key.pub.json')).kid as string,
        'b.pub.json',
        'b.json',
      ],
      { cwd: dir, env },
    );
    expectError(again, EXIT.KEY_EXISTS, /in the kernel keyring/);
    expectOk(await ring.keymint(['keychain', 'delete', 'key.json', '--force'], { cwd: dir, env }));
  });
});

describe('the native keychain binding is loaded only by keychain commands', () => {
  // Pointing the napi-rs loader at a missing file makes any load of the binding fail.
  const env = { NAPI_RS_NATIVE_LIBRARY_PATH: '/nonexistent/keyring.node' };

  it('keymint --help and software keys work without it; keychain commands say it is missing (5)', async () => {
    const dir = tempDir();
    expectOk(await keymint(['--help'], { cwd: dir, env }));
    expectOk(await keymint(['keychain', '--help'], { cwd: dir, env }));
    expectOk(await keymint(['create', '--no-password', '--insecure', 'a.pub.json', 'a.json'], { cwd: dir, env }));
    await expectFailure(
      dir,
      ['create', '--backend', 'keychain', 'b.pub.json', 'b.json'],
      EXIT.BACKEND_UNAVAILABLE,
      [/the keychain binding @napi-rs\/keyring could not be loaded/, /pnpm add @napi-rs\/keyring/],
      { env },
    );
    expectError(
      await keymint(['keychain', 'keys'], { cwd: dir, env }),
      EXIT.BACKEND_UNAVAILABLE,
      /could not be loaded/,
    );
  });
});
