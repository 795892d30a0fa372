import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useSoftHsm } from '@keymint/test-kit';
import type { Jwk, PrivatePart } from '@keymint/core';
import { parsePkcs11Uri, pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from './fixtures/softhsm-tokens.js';
import { expectSignsAndVerifies, referenceUri } from './fixtures/sign-check.js';

const softhsm = useSoftHsm();
const TOKEN = SOFTHSM_TOKENS.concurrency;
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'create-keys.mjs');
const PROCESSES = 8;
const KEYS_EACH = 10;

interface Made {
  kid: string;
  alg: string;
  publicJwk: Jwk;
  private: PrivatePart;
}

function run(worker: number): Promise<Made[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SCRIPT, softhsm.uri(TOKEN), String(KEYS_EACH), String(worker)], {
      env: process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker ${worker} exited with ${String(code)}: ${err}`));
      else
        resolve(
          out
            .trim()
            .split('\n')
            .map((line) => JSON.parse(line) as Made),
        );
    });
  });
}

describe('concurrency: parallel processes on one SoftHSM token', () => {
  it(`${PROCESSES} processes make ${KEYS_EACH} keys each: ${PROCESSES * KEYS_EACH} distinct keys, each usable`, async () => {
    if (!existsSync(join(dirname(SCRIPT), '..', '..', 'dist', 'index.js')))
      throw new Error('dist/index.js is missing: run the build first (turbo runs it before the tests)');
    const made = (await Promise.all(Array.from({ length: PROCESSES }, (_, i) => run(i)))).flat();
    expect(made).toHaveLength(PROCESSES * KEYS_EACH);
    const uris = made.map((m) => referenceUri(m.private));
    expect(new Set(made.map((m) => m.kid)).size).toBe(made.length);
    expect(new Set(uris.map((u) => Buffer.from(parsePkcs11Uri(u).id!).toString('hex'))).size).toBe(made.length);

    // The token holds exactly these keys, and every one signs (a fresh backend, from its reference).
    const backend = await pkcs11Backend({ uri: softhsm.uri(TOKEN) });
    try {
      const listed = (await backend.listKeys()).filter((k) => k.type === 'private');
      expect(listed).toHaveLength(made.length);
      expect(new Set(listed.map((k) => k.kid))).toEqual(new Set(made.map((m) => m.kid)));
      for (const key of made) await expectSignsAndVerifies(backend, key, key.alg);
    } finally {
      await backend.close();
    }
  }, 300_000);
});
