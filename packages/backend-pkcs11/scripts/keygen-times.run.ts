import { it } from 'vitest';
import { useSoftHsm, useSoftwareTpm } from '@keymint/test-kit';
import { resolveKeySpec, supports, type KeyParamsInput } from '@keymint/core';
import { generateContext } from '@keymint/core/testing';
import { pkcs11Backend, type Pkcs11Backend } from '../src/index.js';
import { SOFTHSM_TOKENS } from '../test/fixtures/softhsm-tokens.js';

/**
 * Key generation times per key type, on SoftHSM2 and on the software TPM: C_GenerateKeyPair or
 * C_GenerateKey plus reading the public key and setting the label, as `generate` does it, after
 * one warm-up key (the login), each kind on a backend of its own. Prints a Markdown table:
 * median, min and max in milliseconds.
 */

// At most ten keys per backend: see `time`.
const RUNS = Math.min(10, Number(process.env.KEYGEN_RUNS ?? '10'));
const KINDS: Array<[string, KeyParamsInput, number]> = [
  ['EC P-256', { kty: 'EC', crv: 'P-256' }, RUNS],
  ['EC P-384', { kty: 'EC', crv: 'P-384' }, RUNS],
  ['EC P-521', { kty: 'EC', crv: 'P-521' }, RUNS],
  ['Ed25519', { kty: 'OKP', crv: 'Ed25519' }, RUNS],
  ['RSA 2048', { kty: 'RSA', size: 2048 }, RUNS],
  ['RSA 3072', { kty: 'RSA', size: 3072 }, Math.max(3, Math.ceil(RUNS / 2))],
  ['RSA 4096', { kty: 'RSA', size: 4096 }, Math.max(3, Math.ceil(RUNS / 2))],
  ['oct 256 HS256 (generic secret)', { kty: 'oct', alg: 'HS256' }, RUNS],
  ['oct 256 A256GCMKW (AES)', { kty: 'oct', use: 'enc', alg: 'A256GCMKW' }, RUNS],
];

/** Times `runs` keys of one kind on a backend of its own (tpm2-pkcs11 holds every key it made until the module is let go). */
async function time(open: () => Promise<Pkcs11Backend>, params: KeyParamsInput, runs: number): Promise<string> {
  const spec = resolveKeySpec(params);
  const backend = await open();
  try {
    if (!supports(backend.capabilities, spec)) return 'not supported';
    // One warm-up key: the login and the first use of the module are not keygen time.
    const warmUp = resolveKeySpec({ kty: 'EC' });
    await backend.generate(warmUp, generateContext(warmUp));
    const ms: number[] = [];
    for (let i = 0; i < runs; i++) {
      const start = performance.now();
      await backend.generate(spec, generateContext(spec));
      ms.push(performance.now() - start);
    }
    ms.sort((a, b) => a - b);
    const median =
      ms.length % 2 === 1
        ? (ms[(ms.length - 1) / 2] as number)
        : ((ms[ms.length / 2 - 1] as number) + (ms[ms.length / 2] as number)) / 2;
    return `${median.toFixed(0)} (${(ms[0] as number).toFixed(0)}–${(ms[ms.length - 1] as number).toFixed(0)}, n=${runs})`;
  } finally {
    await backend.close();
  }
}

it('keygen times on SoftHSM2 and on the software TPM', async () => {
  const softhsm = useSoftHsm();
  const tpm = useSoftwareTpm();
  const label = SOFTHSM_TOKENS.backend;
  const backends: Array<[string, () => Promise<Pkcs11Backend>]> = [
    ['SoftHSM 2.6.1', () => pkcs11Backend({ uri: softhsm.uri(label) })],
    ['TPM (swtpm 0.7 + tpm2-pkcs11 1.9)', () => pkcs11Backend({ uri: tpm.uri, pin: tpm.token.pin })],
  ];
  const rows: string[] = [
    `| key type | ${backends.map(([name]) => `${name}, ms`).join(' | ')} |`,
    `|---|${backends.map(() => '---').join('|')}|`,
  ];
  for (const [name, params, runs] of KINDS) {
    const cells: string[] = [];
    for (const [, open] of backends) cells.push(await time(open, params, runs));
    rows.push(`| ${name} | ${cells.join(' | ')} |`);
  }
  console.log(
    `\nKey generation, median (min–max) in ms, on ${process.arch} with ${(await import('node:os')).cpus().length} cores:\n\n${rows.join('\n')}\n`,
  );
});
