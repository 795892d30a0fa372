import { createServer } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { compactVerify, importJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P11_KIT_CLIENT, SOFTHSM_MODULE, p11KitServer, startSoftHsm } from '@keymint/test-kit';
import {
  escapeRegExp,
  expectError,
  expectFailure,
  type Jwk,
  keymint,
  listDir,
  readJson,
  rfc7638,
  type RunResult,
  snapshot,
  tempDir,
  writeFile,
} from '../helpers.js';

/**
 * A SoftHSM2 token forwarded over a unix socket by `p11-kit server` and reached through p11-kit's
 * client module, as a container reaches a forwarded token or a program a network HSM: keymint
 * create, keys list, sign and verify work as on the local token. With the server gone, a command
 * fails with exit 5 (ERR_BACKEND_UNAVAILABLE) and one line saying the token is unavailable, writes
 * nothing, and the next run after a restart works.
 */
const TOKEN = 'e2e-forwarded';
const UNAVAILABLE = 5;
const softhsm = startSoftHsm([TOKEN], { setEnv: true });
const server = p11KitServer(SOFTHSM_MODULE, TOKEN, { SOFTHSM2_CONF: softhsm.conf });
const env = { ...server.env };
const uri = softhsm.uri(TOKEN).replace(`module-path=${SOFTHSM_MODULE}`, `module-path=${P11_KIT_CLIENT}`);
/** A run that starts with no server: p11-kit's client loads, lists no token and says it has no connection. */
const NO_SERVER = new RegExp(
  `^keymint: token "${TOKEN}"[^:]* is unavailable: the PKCS#11 module ${escapeRegExp(P11_KIT_CLIENT)} is p11-kit's client, ` +
    'and it reaches no server; start the p11-kit server, or check P11_KIT_SERVER_ADDRESS\\n$',
);
/** A run that loses the server while it works: the client answers CKR_DEVICE_ERROR. */
const LOST = new RegExp(
  `^keymint: [^\\n]+ on token "${TOKEN}" \\(serial [0-9a-f]+\\) failed: the token is unavailable \\(CKR_DEVICE_ERROR\\); `,
);

beforeAll(() => server.start());
afterAll(async () => {
  await server.stop();
  softhsm.remove();
});

function ok(result: RunResult): RunResult {
  expect(result.stderr, 'no stack trace').not.toMatch(/^\s+at /m);
  expect(result.code, `stderr: ${result.stderr}`).toBe(0);
  return result;
}

const run = (dir: string, args: readonly string[]) => keymint(args, { cwd: dir, env });
const create = (dir: string, flags: readonly string[], name = 'key') =>
  run(dir, ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, ...flags, `${name}.pub.json`, `${name}.json`]);

async function expectVerifies(dir: string, jws: string, payload: string, name = 'key'): Promise<void> {
  const jwk = readJson<Jwk>(join(dir, `${name}.pub.json`));
  const { payload: signed } = await compactVerify(jws.trim(), await importJWK(jwk, jwk.alg as string));
  expect(Buffer.from(signed).toString()).toBe(payload);
}

describe('keymint through a token forwarded by p11-kit server', () => {
  it('create (EC and RSA), keys list, sign and verify, as on the local token', async () => {
    const dir = tempDir();
    writeFile(dir, 'payload.txt', 'over the socket');
    ok(await create(dir, [], 'ec'));
    ok(await create(dir, ['--kty', 'RSA'], 'rsa'));
    expect(readJson<{ location: { uri: string } }>(join(dir, 'ec.json')).location.uri).toContain(
      `module-path=${P11_KIT_CLIENT}&`,
    );

    const listed = JSON.parse(
      ok(await run(dir, ['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri, '--json'])).stdout,
    ) as {
      keys: Array<{ kid: string | null; kty: string; details: { type: string } }>;
    };
    const kids = ['ec', 'rsa'].map((name) => rfc7638(readJson<Jwk>(join(dir, `${name}.pub.json`))));
    expect(
      listed.keys
        .filter((k) => k.details.type === 'private')
        .map((k) => k.kid)
        .sort(),
    ).toEqual(kids.sort());

    for (const name of ['ec', 'rsa']) {
      const signed = ok(await run(dir, ['sign', '--key', `${name}.json`, 'payload.txt']));
      writeFile(dir, `${name}.jws`, signed.stdout.trim());
      expect(ok(await run(dir, ['verify', '--key', `${name}.pub.json`, `${name}.jws`])).stdout).toContain(
        'over the socket',
      );
      await expectVerifies(dir, signed.stdout, 'over the socket', name);
    }
  });

  it('the server gone between create and sign: exit 5, one line naming the token and p11-kit; restarted: it signs', async () => {
    const dir = tempDir();
    writeFile(dir, 'payload.txt', 'after a restart');
    ok(await create(dir, []));
    await server.kill();
    try {
      const before = snapshot(dir);
      expectError(await run(dir, ['sign', '--key', 'key.json', 'payload.txt']), UNAVAILABLE, NO_SERVER);
      expectError(await run(dir, ['keys', 'list', '--backend', 'pkcs11', '--pkcs11-uri', uri]), UNAVAILABLE, NO_SERVER);
      expect(snapshot(dir)).toEqual(before);
    } finally {
      await server.start();
    }
    await expectVerifies(
      dir,
      ok(await run(dir, ['sign', '--key', 'key.json', 'payload.txt'])).stdout,
      'after a restart',
    );
  });

  it('a server that hangs up at once: exit 5, "failed to start: the token is unavailable", nothing written', async () => {
    const dir = tempDir();
    writeFile(dir, 'payload.txt', 'x');
    const socket = join(dir, 'hangs-up.sock');
    const hangsUp = createServer((connection) => connection.destroy());
    await new Promise<void>((resolve) => hangsUp.listen(socket, resolve));
    try {
      const expected = new RegExp(
        `^keymint: the PKCS#11 module ${escapeRegExp(P11_KIT_CLIENT)} failed to start: the token is unavailable \\(CKR_DEVICE_ERROR\\); ` +
          'if the token is reached through a server \\(a network HSM, p11-kit server\\), check that it runs, then try again\\n$',
      );
      const args = ['create', '--backend', 'pkcs11', '--pkcs11-uri', uri, 'key.pub.json', 'key.json'];
      await expectFailure(dir, args, UNAVAILABLE, [expected], {
        env: { ...env, P11_KIT_SERVER_ADDRESS: `unix:path=${socket}` },
      });
    } finally {
      await new Promise((resolve) => hangsUp.close(resolve));
    }
  });

  it('the server killed while create makes a key: exit 5, no file written, no key on the token; after a restart create works', async () => {
    const dir = tempDir();
    const objects = softhsm.objects(TOKEN);
    // RSA 8192 takes SoftHSM seconds to make: long enough to kill the server in the middle of it.
    const creating = create(dir, ['--kty', 'RSA', '--size', '8192']);
    await sleep(1500);
    await server.kill();
    try {
      const result = await creating;
      expectError(result, UNAVAILABLE, LOST);
      expect(result.stderr).toMatch(/^keymint: creating an RSA 8192 RS256 key on token /);
      expect(listDir(dir)).toEqual([]);
      expect(softhsm.objects(TOKEN)).toBe(objects);
    } finally {
      await server.start();
    }
    ok(await create(dir, []));
    expect(listDir(dir)).toEqual(['key.json', 'key.pub.json']);
  }, 60_000);

  it('the server killed during a run of signatures: each one signs or exits 5 with one line; after a restart they sign', async () => {
    const dir = tempDir();
    writeFile(dir, 'payload.txt', 'one of many');
    ok(await create(dir, ['--kty', 'RSA']));
    const outcomes: number[] = [];
    const sign = async () => {
      const result = await run(dir, ['sign', '--key', 'key.json', 'payload.txt']);
      if (result.code === 0) await expectVerifies(dir, result.stdout, 'one of many');
      // Lost at whatever step the run had reached: loading the client, finding the token, signing.
      else
        expectError(
          result,
          UNAVAILABLE,
          /^keymint: [^\n]*(is unavailable: |failed: the token is unavailable |failed to start: the token is unavailable )/,
        );
      outcomes.push(result.code as number);
    };
    // Two signers at a time, the server killed while they run.
    const signers = [0, 1].map(async () => {
      for (let i = 0; i < 6; i++) await sign();
    });
    while (outcomes.length < 3) await sleep(10);
    await server.kill();
    try {
      await Promise.all(signers);
    } finally {
      await server.start();
    }
    expect(outcomes.slice(0, 3)).toEqual([0, 0, 0]);
    expect(outcomes).toContain(UNAVAILABLE);
    expect(outcomes.every((code) => code === 0 || code === UNAVAILABLE)).toBe(true);
    await expectVerifies(dir, ok(await run(dir, ['sign', '--key', 'key.json', 'payload.txt'])).stdout, 'one of many');
  }, 60_000);
});
