// 3. RSA 2048 and 4096 through the CLI against `openssl genpkey`: both are OpenSSL 3 underneath.
import { keyPairOutputs, timeInterleaved } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = { id: 'rsa', number: 3, short: 'RSA', title: 'RSA key generation: keymint vs openssl genpkey' };

export async function run(ctx) {
  const { pub, priv, clean } = keyPairOutputs(ctx, 'rsa');
  const node = process.execPath;
  const out = { series: [], comparisons: [] };
  // The prime search makes single times vary a lot (4096 bits: 0.2 s to 4 s here): many runs, medians.
  for (const [bits, runs] of [
    [2048, ctx.quick ? 10 : 80],
    [4096, ctx.quick ? 4 : 80],
  ]) {
    ctx.log(`RSA ${bits}: ${runs} interleaved runs each`);
    // The EC runs give each tool's cost of everything but the keygen (start-up, files), in the same run.
    const t = timeInterleaved(
      {
        keymint: {
          cmd: node,
          args: [ctx.bin, 'create', '--kty', 'RSA', '--size', String(bits), '--no-password', '--insecure', pub, priv],
          prepare: clean,
        },
        openssl: { cmd: 'openssl', args: ['genpkey', '-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${bits}`] },
        keymintEc: {
          cmd: node,
          args: [ctx.bin, 'create', '--kty', 'EC', '--no-password', '--insecure', pub, priv],
          prepare: clean,
        },
        opensslEc: { cmd: 'openssl', args: ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'] },
      },
      { runs, warmup: 1 },
    );
    const k = series(`keymint-${bits}`, `keymint create RSA ${bits}`, 'ms', t.keymint, {
      command: `keymint create --kty RSA --size ${bits} --no-password --insecure k.pub.json k.json`,
    });
    const o = series(`openssl-${bits}`, `openssl genpkey RSA ${bits}`, 'ms', t.openssl, {
      command: `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:${bits}`,
    });
    const kEc = series(`keymint-ec-${bits}`, `keymint create EC P-256 (in the RSA ${bits} run)`, 'ms', t.keymintEc);
    const oEc = series(`openssl-ec-${bits}`, `openssl genpkey EC P-256 (in the RSA ${bits} run)`, 'ms', t.opensslEc);
    out.series.push(k, o, kEc, oEc);
    out.comparisons.push(
      compare(`RSA ${bits}: keymint ÷ openssl`, k, o, { op: '<=', value: 1.2, text: '~1: same OpenSSL' }),
      {
        ...compare(
          `RSA ${bits}, keygen alone: keymint ÷ openssl`,
          { median: k.stats.median - kEc.stats.median, label: 'keymint RSA − keymint EC', unit: 'ms' },
          { median: o.stats.median - oEc.stats.median, label: 'openssl RSA − openssl EC', unit: 'ms' },
        ),
        note: 'each minus the same tool making an EC key: start-up and files taken out',
      },
    );
  }
  return {
    ...meta,
    description:
      "Whole processes: keymint's includes its start-up over openssl's (case 1), which weighs on RSA 2048 and fades in RSA 4096. Goal: ratio ~1 (≤ 1.2).",
    ...out,
  };
}
