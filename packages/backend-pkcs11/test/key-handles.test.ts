import { execFile } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool, useSoftHsm } from '@keymint/test-kit';
import { KeymintError, createKey, type Jwk, type KeyReference, type PrivatePart } from '@keymint/core';
import { verifyCompactJws } from '@keymint/core/testing';
import { parsePkcs11Uri, pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { referenceUri } from './fixtures/sign-check.js';

/**
 * A backend keeps the handle of a key it found and checks it before each use (lookUpKey). Here
 * the key behind a kept handle is deleted, replaced and renamed behind the backend's back, by
 * pkcs11-tool in another process and by another backend in this one: every signature must verify
 * with the key the reference names at that moment, never with one it named before.
 */
const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.handles;
const PIN = softhsm.pin;
const SPY = '/usr/lib/x86_64-linux-gnu/pkcs11/pkcs11-spy.so';
const run = promisify(execFile);
const b64 = (value: string | Uint8Array) => Buffer.from(value).toString('base64url');

/** pkcs11-tool on the token, logged in. */
function tool(...args: string[]): string {
  return runTool(
    'pkcs11-tool',
    ['--module', softhsm.module, '--token-label', TOKEN, '--login', '--pin', PIN, ...args],
    { env: softhsm.env },
  );
}

/** Deletes both halves of the key pair labelled `label`, from another process. */
function deletePair(label: string): void {
  tool('--delete-object', '--type', 'privkey', '--label', label);
  tool('--delete-object', '--type', 'pubkey', '--label', label);
}

/** Makes a key pair from another process; `keyType` as pkcs11-tool writes it (EC:prime256v1, rsa:2048). */
function makePair(label: string, idHex: string, keyType = 'EC:prime256v1'): void {
  tool('--keypairgen', '--key-type', keyType, '--label', label, '--id', idHex, '--usage-sign');
}

/** A reference (as a key file holds it) naming a key on the token by `path` (object=, id=, type=). */
function referenceTo(path: string): PrivatePart {
  return { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: softhsm.uri(TOKEN, { path }) } } };
}

function referenceOf(part: PrivatePart): KeyReference {
  if (part.kind !== 'reference') throw new Error('not a reference');
  return part.reference;
}

/** The id of a reference's URI, in hex and percent-encoded. */
function idOf(part: PrivatePart): { hex: string; encoded: string } {
  const hex = Buffer.from(parsePkcs11Uri(referenceUri(part)).id!).toString('hex');
  return { hex, encoded: hex.replace(/(..)/g, '%$1') };
}

describe('kept key handles on SoftHSM2: a key deleted or replaced behind the backend', () => {
  let maker: Pkcs11Backend;
  let signer: Pkcs11Backend;
  beforeAll(async () => {
    maker = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    signer = await pkcs11Backend({ pin: PIN });
  });
  afterAll(async () => {
    await signer.close();
    await maker.close();
  });

  /** The public JWK of the key pair labelled `label` (with id `idHex`), as a fresh look at the token shows it. */
  async function publicOf(label: string, idHex?: string): Promise<Jwk> {
    const keys = (await maker.listKeys()).filter(
      (k) => k.label === label && k.type === 'private' && (idHex === undefined || k.id === idHex),
    );
    expect(keys, `one key pair labelled ${label}`).toHaveLength(1);
    expect(keys[0]!.publicJwk).toBeTruthy();
    return keys[0]!.publicJwk as Jwk;
  }

  /** Signs with `part` through the long-lived signer; returns which of `candidates` verifies the signature. */
  async function signedBy(part: PrivatePart, alg: string, candidates: Record<string, Jwk>): Promise<string[]> {
    const input = `${b64(JSON.stringify({ alg }))}.${b64(`at ${Date.now()}`)}`;
    const signature = await signer.sign(part, alg, new TextEncoder().encode(input));
    const verified: string[] = [];
    for (const [name, jwk] of Object.entries(candidates)) {
      if ((await verifyCompactJws(`${input}.${b64(signature)}`, jwk, alg)).valid) verified.push(name);
    }
    return verified;
  }

  async function signError(part: PrivatePart, alg = 'ES256'): Promise<KeymintError> {
    const error = await signer.sign(part, alg, new Uint8Array([1])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KeymintError);
    return error as KeymintError;
  }

  it('deleted by pkcs11-tool: the next sign is ERR_KEY_NOT_FOUND; made again with the same label and id: signs with the new key', async () => {
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'deleted-twice' });
    const id = idOf(made.private!);
    const old = made.publicJwk!;
    expect(await signedBy(made.private!, 'ES256', { old })).toEqual(['old']);

    deletePair('deleted-twice');
    const error = await signError(made.private!);
    expect(error.code).toBe('ERR_KEY_NOT_FOUND');
    expect(error.message).toMatch(
      /^token "keymint-handles" \(serial [0-9a-f]+\) has no private or secret key with label "deleted-twice" and id /,
    );

    makePair('deleted-twice', id.hex);
    const fresh = await publicOf('deleted-twice');
    expect(await signedBy(made.private!, 'ES256', { old, fresh })).toEqual(['fresh']);
    // And again once kept: the new handle is kept and checked like the first.
    expect(await signedBy(made.private!, 'ES256', { old, fresh })).toEqual(['fresh']);
  });

  it('made again under the same label with another id: a reference by label signs with it, one by label and id finds nothing', async () => {
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'new-id' });
    const byLabel = referenceTo('object=new-id;type=private');
    const old = made.publicJwk!;
    expect(await signedBy(byLabel, 'ES256', { old })).toEqual(['old']);
    expect(await signedBy(made.private!, 'ES256', { old })).toEqual(['old']);

    deletePair('new-id');
    makePair('new-id', 'abcdef01');
    const fresh = await publicOf('new-id');
    expect(await signedBy(byLabel, 'ES256', { old, fresh })).toEqual(['fresh']);
    expect((await signError(made.private!)).code).toBe('ERR_KEY_NOT_FOUND');
  });

  it('the kept key gives its id to another, its handle still valid: the check sees it, the key the reference names signs', async () => {
    // SoftHSM keeps a handle valid while its object lives; only the object's CKA_ID changes here.
    // Without the check, the old key would go on signing for a reference that names another.
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'renamed' });
    const id = idOf(made.private!);
    const old = made.publicJwk!;
    expect(await signedBy(made.private!, 'ES256', { old })).toEqual(['old']);

    tool('--set-id', 'fe', '--type', 'privkey', '--id', id.hex);
    tool('--set-id', 'fe', '--type', 'pubkey', '--id', id.hex);
    makePair('renamed', id.hex);
    const fresh = await publicOf('renamed', id.hex);
    expect(await signedBy(made.private!, 'ES256', { old, fresh })).toEqual(['fresh']);
  });

  it('made again as another kind of key under the same label and id: it is what the reference names now (RSA: RS256, not ES256)', async () => {
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'retyped' });
    const id = idOf(made.private!);
    expect(await signedBy(made.private!, 'ES256', { old: made.publicJwk! })).toEqual(['old']);

    deletePair('retyped');
    makePair('retyped', id.hex, 'rsa:2048');
    const error = await signError(made.private!, 'ES256');
    expect(error.code).toBe('ERR_ALG_NOT_SUPPORTED');
    expect(error.message).toMatch(/ES256/);
    const fresh = await publicOf('retyped', id.hex);
    expect(await signedBy(made.private!, 'RS256', { fresh })).toEqual(['fresh']);
  });

  it('deleted and made again by another backend in this process (the same module, the same handle numbering)', async () => {
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'in-process' });
    const id = idOf(made.private!);
    const old = made.publicJwk!;
    expect(await signedBy(made.private!, 'ES256', { old })).toEqual(['old']);

    expect((await maker.delete!(referenceOf(made.private!))).outcome).toBe('deleted');
    expect((await signError(made.private!)).code).toBe('ERR_KEY_NOT_FOUND');
    const again = await pkcs11Backend({ uri: softhsm.uri(TOKEN, { path: `object=in-process;id=${id.encoded}` }) });
    try {
      const remade = await createKey(again, { kty: 'EC', crv: 'P-256' });
      expect(referenceUri(remade.private)).toBe(referenceUri(made.private));
      expect(await signedBy(made.private!, 'ES256', { old, fresh: remade.publicJwk! })).toEqual(['fresh']);
    } finally {
      await again.close();
    }
  });

  it('stress: signatures while pkcs11-tool deletes and remakes the key 25 times; each verifies with a key alive during it', async () => {
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'churn' });
    const id = idOf(made.private!);
    const der = join(softhsm.dir, 'churn.der');
    const login = ['--module', softhsm.module, '--token-label', TOKEN, '--login', '--pin', PIN];
    const toolAsync = (...args: string[]) =>
      run('pkcs11-tool', [...login, ...args], { env: { ...process.env, ...softhsm.env } });
    // Each key with when it was being made (start) and deleted (end): a signature may verify only
    // with a key that lived during it.
    const lives: Array<{ jwk: Jwk; from: number; to: number }> = [{ jwk: made.publicJwk!, from: 0, to: Infinity }];
    let churning = true;
    const churn = (async () => {
      for (let i = 0; i < 25; i++) {
        await toolAsync('--delete-object', '--type', 'privkey', '--label', 'churn');
        lives[lives.length - 1]!.to = performance.now();
        await toolAsync('--delete-object', '--type', 'pubkey', '--label', 'churn');
        const from = performance.now();
        await toolAsync(
          '--keypairgen',
          '--key-type',
          'EC:prime256v1',
          '--label',
          'churn',
          '--id',
          id.hex,
          '--usage-sign',
        );
        await toolAsync('--read-object', '--type', 'pubkey', '--id', id.hex, '--output-file', der);
        const jwk = createPublicKey({ key: readFileSync(der), format: 'der', type: 'spki' }).export({
          format: 'jwk',
        }) as Jwk;
        lives.push({ jwk, from, to: Infinity });
      }
    })().finally(() => {
      churning = false;
    });
    // Checked once every key is known: a key's public half is read after it can already sign.
    const signed: Array<{ i: number; jws: string; started: number; ended: number }> = [];
    let notFound = 0;
    try {
      for (let i = 0; churning || i < 100; i++) {
        const input = `${b64('{"alg":"ES256"}')}.${b64(String(i))}`;
        const started = performance.now();
        try {
          const signature = await signer.sign(made.private!, 'ES256', new TextEncoder().encode(input));
          signed.push({ i, jws: `${input}.${b64(signature)}`, started, ended: performance.now() });
        } catch (error) {
          expect((error as KeymintError).code, (error as Error).message).toBe('ERR_KEY_NOT_FOUND');
          notFound++;
          // A failed look-up settles without I/O: let the other process's results come in.
          await new Promise((r) => setTimeout(r, 1));
        }
      }
      await churn;
    } finally {
      await churn.catch(() => undefined);
    }
    for (const { i, jws, started, ended } of signed) {
      const verifies = async (l: (typeof lives)[number]) => (await verifyCompactJws(jws, l.jwk, 'ES256')).valid;
      const alive = lives.filter((l) => l.from <= ended && l.to >= started);
      const dead = lives.filter((l) => !alive.includes(l));
      const byDead = (await Promise.all(dead.map(verifies))).some(Boolean);
      const byAlive = (await Promise.all(alive.map(verifies))).some(Boolean);
      expect(byDead, `signature ${i} made with a key deleted before it started`).toBe(false);
      expect(byAlive, `signature ${i} verifies with a key alive during it`).toBe(true);
    }
    expect(lives).toHaveLength(26);
    expect(signed.length).toBeGreaterThan(26);
    expect(notFound).toBeGreaterThan(0);
  }, 180_000);
});

describe('kept key handles: what the token is asked (watched through pkcs11-spy)', () => {
  it('a reference signed with again is checked with one C_GetAttributeValue, not searched for: one C_FindObjectsInit for 20 signatures', async () => {
    const log = join(softhsm.dir, 'spy-handles.log');
    process.env.PKCS11SPY = softhsm.module;
    process.env.PKCS11SPY_OUTPUT = log;
    const maker = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    const made = await createKey(maker, { kty: 'EC', crv: 'P-256', kid: 'watched' });
    await maker.close();
    const spied = referenceUri(made.private).replace(/module-path=[^&]*/, `module-path=${SPY}`);
    const part: PrivatePart = { kind: 'reference', reference: { backend: 'pkcs11', location: { uri: spied } } };
    const calls = (name: string) => (readFileSync(log, 'utf8').match(new RegExp(`^\\d+: ${name}$`, 'gm')) ?? []).length;
    writeFileSync(log, '');
    const signer = await pkcs11Backend({ pin: PIN, trustedModules: [SPY] });
    try {
      for (let i = 0; i < 10; i++) await signer.sign(part, 'ES256', new Uint8Array([i]));
      const reads = calls('C_GetAttributeValue');
      for (let i = 0; i < 10; i++) await signer.sign(part, 'ES256', new Uint8Array([i]));
      // One check per signature: one C_GetAttributeValue from keymint, which the binding makes as two (sizes, then values).
      expect(calls('C_GetAttributeValue') - reads).toBe(2 * 10);
    } finally {
      await signer.close();
    }
    expect(calls('C_FindObjectsInit')).toBe(1);
    expect(calls('C_SignInit')).toBe(20);
    expect(calls('C_Sign')).toBe(20);
  });
});
