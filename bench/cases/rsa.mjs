// 3. RSA 2048 and 4096 through the CLI against `openssl genpkey`: both are OpenSSL 3 underneath.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { timeInterleaved } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = { id: 'rsa', number: 3, short: 'RSA', title: 'RSA key generation: keymint vs openssl genpkey' };

export async function run(ctx) {
  const dir = join(ctx.tmp, 'rsa');
  mkdirSync(dir, { recursive: true });
  const pub = join(dir, 'k.pub.json');
  const priv = join(dir, 'k.json');
  const clean = () => {
    rmSync(pub, { force: true });
    rmSync(priv, { force: true });
  };
  const node = process.execPath;
  const out = { series: [], comparisons: [] };
  // The prime search makes single times vary a lot (4096 bits: 0.3 s to 5 s here): many runs, medians.
  for (const [bits, runs] of [
    [2048, ctx.quick ? 10 : 60],
    [4096, ctx.quick ? 4 : 30],
  ]) {
    ctx.log(`RSA ${bits}: ${runs} interleaved runs each`);
    const t = timeInterleaved(
      {
        keymint: { cmd: node, args: [ctx.bin, 'create', '--kty', 'RSA', '--size', String(bits), '--no-password', '--insecure', pub, priv], prepare: clean },
        openssl: { cmd: 'openssl', args: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`] },
      },
      { runs, warmup: 1 },
    );
    const k = series(`keymint-${bits}`, `keymint create RSA ${bits}`, 'ms', t.keymint, { command: `keymint create --kty RSA --size ${bits} --no-password --insecure k.pub.json k.json` });
    const o = series(`openssl-${bits}`, `openssl genpkey RSA ${bits}`, 'ms', t.openssl, { command: `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${bits}` });
    out.series.push(k, o);
    out.comparisons.push(compare(`RSA ${bits}: keymint ÷ openssl`, k, o, { op: '<=', value: 1.2, text: '~1: same OpenSSL' }));
  }
  return {
    ...meta,
    description:
      "Whole processes: keymint's includes its start-up over openssl's (case 1), which weighs on RSA 2048 and fades in RSA 4096. Goal: ratio ~1 (≤ 1.2).",
    ...out,
  };
}
