// 2. Password protection: `keymint create` with the default PBES2 count (600000) against its
// floor, `node -e 0` plus the raw PBKDF2-HMAC-SHA256 of 600000 iterations in OpenSSL.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { keyPairOutputs, timeInterleaved } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = { id: 'password', number: 2, short: 'password', title: 'Password protection (PBES2, p2c 600000)' };

export async function run(ctx) {
  const { dir, pub, priv, clean } = keyPairOutputs(ctx, 'password');
  const pw = join(dir, 'pw');
  writeFileSync(pw, 'correct horse battery staple\n', { mode: 0o600 });
  // The salt PBES2 feeds PBKDF2: the alg name, a zero byte, then the 16-byte p2s (RFC 7518 §4.8.1.1).
  const salt = Buffer.concat([Buffer.from('PBES2-HS256+A128KW'), Buffer.from([0]), Buffer.alloc(16, 7)]).toString(
    'hex',
  );
  const runs = ctx.quick ? 5 : 15;
  ctx.log(`${runs} interleaved runs each`);
  const node = process.execPath;
  const t = timeInterleaved(
    {
      node: { cmd: node, args: ['-e', '0'] },
      kdf: {
        cmd: 'openssl',
        args: [
          'kdf',
          '-keylen',
          '16',
          '-kdfopt',
          'digest:SHA256',
          '-kdfopt',
          'pass:correct horse battery staple',
          '-kdfopt',
          `hexsalt:${salt}`,
          '-kdfopt',
          'iter:600000',
          'PBKDF2',
        ],
      },
      keymint: {
        cmd: node,
        args: [ctx.bin, 'create', '--kty', 'EC', '--password-file', pw, pub, priv],
        prepare: clean,
      },
      plain: {
        cmd: node,
        args: [ctx.bin, 'create', '--kty', 'EC', '--no-password', '--insecure', pub, priv],
        prepare: clean,
      },
    },
    { runs, warmup: 1 },
  );
  const s = {
    node: series('node', 'node -e 0', 'ms', t.node, { command: 'node -e 0' }),
    kdf: series('kdf', 'openssl kdf PBKDF2-HMAC-SHA256, 600000 iterations', 'ms', t.kdf, {
      command:
        'openssl kdf -keylen 16 -kdfopt digest:SHA256 -kdfopt pass:… -kdfopt hexsalt:… -kdfopt iter:600000 PBKDF2',
    }),
    keymint: series('keymint', 'keymint create, encrypted (p2c 600000)', 'ms', t.keymint, {
      command: 'keymint create --kty EC --password-file pw k.pub.json k.json',
    }),
    plain: series('plain', 'keymint create, unencrypted', 'ms', t.plain, {
      command: 'keymint create --kty EC --no-password --insecure k.pub.json k.json',
    }),
  };
  const floor = { median: s.node.stats.median + s.kdf.stats.median, label: 'node -e 0 + openssl kdf', unit: 'ms' };
  const encryption = {
    median: s.keymint.stats.median - s.plain.stats.median,
    label: 'encryption (encrypted − unencrypted create)',
    unit: 'ms',
  };
  const startupOverhead = s.plain.stats.median - s.node.stats.median;
  const overhead = s.keymint.stats.median - floor.median;
  return {
    ...meta,
    description:
      'The private JWK is encrypted with PBES2-HS256+A128KW: PBKDF2-HMAC-SHA256 over 600000 iterations (Node runs it in OpenSSL, on the thread pool). The floor is a Node process that does nothing plus OpenSSL doing only the KDF at the same count. Goal: the encrypted `keymint create` within 1.25× of that floor.',
    series: [s.node, s.kdf, s.keymint, s.plain],
    comparisons: [
      compare('encrypted create ÷ (node -e 0 + openssl kdf)', s.keymint, floor, { op: '<=', value: 1.25 }),
      {
        ...compare('encryption ÷ OpenSSL PBKDF2 alone', encryption, s.kdf),
        note: 'a difference of two medians: rough',
        summary: false,
      },
    ],
    notes: [
      `Overhead over the floor: ${overhead.toFixed(1)} ms; keymint's start-up overhead over \`node -e 0\` (unencrypted create): ${startupOverhead.toFixed(1)} ms. The part of the overhead that is not start-up: ${(overhead - startupOverhead).toFixed(1)} ms.`,
    ],
  };
}
