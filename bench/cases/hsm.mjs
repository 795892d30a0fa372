// 5. HSM: keys per second on SoftHSM through @keymint/backend-pkcs11 in one process (session and
// login reused) against one `pkcs11-tool --keypairgen` process per key; signatures per second on
// the token through the backend against graphene-pk11 called directly (the backend's overhead),
// with the backend's handle check added to graphene-pk11 (its floor), with several signers at once
// (the session pool) against one, and through a token forwarded by p11-kit server against the
// token itself; decryptions per second (RSA-OAEP-256 unwrap, ECDH-ES derive) the same way.
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { P11_KIT_CLIENT, p11KitServer } from '@keymint/test-kit/p11-kit-server';
import { startSoftHsm } from '@keymint/test-kit/softhsm';
import { BENCH_ENV, runWorker, timeOnce } from '../lib/measure.mjs';
import { compare, series } from '../lib/report.mjs';

export const meta = {
  id: 'hsm',
  number: 5,
  short: 'HSM',
  title: 'HSM (SoftHSM2): key creation, signing and decryption',
};

/**
 * A SoftHSM store of its own (the test kit's harness) with one fresh token: a measurement never
 * sees another's objects. The workers get the PIN in BENCH_PKCS11_PIN, not in the URI.
 */
function token(stores, name) {
  const softhsm = startSoftHsm([name]);
  stores.push(softhsm);
  return {
    env: { ...BENCH_ENV, ...softhsm.env, BENCH_PKCS11_PIN: softhsm.pin },
    uri: softhsm.uri(name, { pin: false }),
    label: name,
    pin: softhsm.pin,
    module: softhsm.module,
  };
}

const perSecond = (msSamples) => msSamples.map((ms) => 1000 / ms);

export async function run(ctx) {
  const stores = [];
  try {
    return await measure(ctx, stores);
  } finally {
    for (const softhsm of stores) softhsm.remove();
  }
}

async function measure(ctx, stores) {
  const out = { series: [], comparisons: [], notes: [] };
  for (const kind of [
    { id: 'EC', label: 'EC P-256', tool: 'EC:prime256v1', count: ctx.quick ? 8 : 40 },
    { id: 'RSA', label: 'RSA 2048', tool: 'rsa:2048', count: ctx.quick ? 4 : 30 },
  ]) {
    ctx.log(`${kind.label}: ${kind.count} keys through the backend, ${kind.count} pkcs11-tool processes`);
    const api = token(stores, `bench-api-${kind.id.toLowerCase()}`);
    const tool = token(stores, `bench-tool-${kind.id.toLowerCase()}`);
    // One backend process, asked for one key at a time, in turn with one pkcs11-tool process.
    const child = spawn(process.execPath, [join(ctx.benchDir, 'workers', 'hsm.mjs'), 'create', api.uri, kind.id], {
      cwd: ctx.benchDir,
      env: api.env,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const answers = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const oneKey = async () => {
      child.stdin.write('key\n');
      const { value, done } = await answers.next();
      if (done) throw new Error('the HSM worker stopped');
      return Number(value);
    };
    const firstMs = await oneKey();
    const apiMs = [];
    const toolMs = [];
    for (let i = 0; i < kind.count; i++) {
      apiMs.push(await oneKey());
      const id = (0x1000 + i).toString(16);
      toolMs.push(
        timeOnce({
          cmd: 'pkcs11-tool',
          args: [
            '--module',
            tool.module,
            '--token-label',
            tool.label,
            '--login',
            '--pin',
            tool.pin,
            '--keypairgen',
            '--key-type',
            kind.tool,
            '--id',
            id,
            '--label',
            `tool-${id}`,
          ],
          env: { SOFTHSM2_CONF: tool.env.SOFTHSM2_CONF },
        }),
      );
    }
    child.stdin.end();
    await new Promise((resolve, reject) =>
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`the HSM worker exited with ${code}`)))),
    );
    const created = { firstMs, samples: apiMs };
    const a = series(
      `hsm-${kind.id}-backend`,
      `${kind.label}: backend, one process, one session`,
      'keys/s',
      perSecond(created.samples),
      {
        note: `first key (module load, session, login) ${created.firstMs.toFixed(0)} ms`,
      },
    );
    const t = series(
      `hsm-${kind.id}-tool`,
      `${kind.label}: one pkcs11-tool --keypairgen process per key`,
      'keys/s',
      perSecond(toolMs),
      {
        command: `pkcs11-tool --module libsofthsm2.so --token-label … --login --pin … --keypairgen --key-type ${kind.tool} --id … --label …`,
      },
    );
    out.series.push(a, t);
    out.comparisons.push(
      compare(
        `${kind.label} keys/s: backend ÷ pkcs11-tool per key`,
        a,
        t,
        kind.id === 'EC'
          ? { op: '>=', value: 1, text: 'a reused session pays' }
          : { op: '>=', value: 0.9, text: 'keygen dominates: ~1' },
      ),
    );
    out.notes.push(
      `${kind.label}: the backend's first key, with module load, session and login, took ${created.firstMs.toFixed(0)} ms; the following keys ${a.stats.median > 0 ? (1000 / a.stats.median).toFixed(1) : '?'} ms each (median).`,
    );
  }

  const signers = Math.max(2, cpus().length);
  for (const alg of ['ES256', 'RS256']) {
    const count = ctx.quick ? 50 : alg === 'ES256' ? 400 : 200;
    const blocks = ctx.quick ? 2 : 5;
    ctx.log(
      `${alg}: ${blocks} alternating blocks of ${count} signatures: backend and graphene-pk11, one at a time and ${signers} at once`,
    );
    const tk = token(stores, `bench-sign-${alg.toLowerCase()}`);
    const r = runWorker(ctx, 'hsm', ['sign', tk.uri, alg, String(count), String(blocks), String(signers)], tk.env);
    const s = (id, label, samples) =>
      series(`sign-${alg}-${id}`, `${alg}: ${label}`, 'signatures/s', perSecond(samples));
    const b = s('backend', 'backend.sign with a key reference', r.backend);
    const g = s('raw', 'graphene-pk11 directly (C_SignInit + C_Sign)', r.raw);
    const gc = s(
      'raw-checked',
      "graphene-pk11 directly, plus the backend's check of its kept handle (one C_GetAttributeValue)",
      r.rawChecked,
    );
    const bn = s('backend-n', `backend.sign, ${signers} signers at once (session pool)`, r.backendN);
    const b1 = s('backend-1', 'backend.sign, one signer, same loop', r.backend1);
    const gn = s('raw-n', `graphene-pk11 directly, ${signers} sessions signing at once`, r.rawN);
    const g1 = s('raw-1', 'graphene-pk11 directly, one session, same loop', r.raw1);
    out.series.push(b, g, gc, bn, b1, gn, g1);
    out.comparisons.push(
      compare(`${alg} signatures/s: backend ÷ graphene-pk11 directly`, b, g, {
        op: '>=',
        value: 0.9,
        text: 'issue 11',
      }),
      compare(`${alg} signatures/s: backend ÷ graphene-pk11 with the same handle check`, b, gc),
      compare(`${alg} signatures/s: ${signers} signers at once ÷ one (backend)`, bn, b1, {
        op: '>=',
        value: 1.8,
        text: 'issue 11, 2 cores',
      }),
      compare(`${alg} signatures/s: ${signers} sessions at once ÷ one (graphene-pk11: the token's own floor)`, gn, g1),
    );
  }

  // A token forwarded over a unix socket by `p11-kit server`, through p11-kit-client.so.
  if (spawnSync('sh', ['-c', 'command -v p11-kit']).status !== 0) {
    throw new Error(
      'p11-kit or p11-kit-client.so is missing: run ./scripts/bench.sh, which installs p11-kit and p11-kit-modules',
    );
  }
  for (const alg of ['ES256', 'RS256']) {
    const count = ctx.quick ? 50 : 200;
    const blocks = ctx.quick ? 2 : 4;
    ctx.log(
      `${alg}: ${blocks} alternating blocks of ${count} signatures through p11-kit server and on the token itself`,
    );
    const tk = token(stores, `bench-fwd-${alg.toLowerCase()}`);
    const server = p11KitServer(tk.module, tk.label, tk.env);
    await server.start();
    try {
      const forwardedUri = tk.uri.replace(`module-path=${tk.module}`, `module-path=${P11_KIT_CLIENT}`);
      const r = runWorker(ctx, 'hsm', ['forward', tk.uri, forwardedUri, alg, String(count), String(blocks)], {
        ...tk.env,
        ...server.env,
      });
      const f = series(
        `fwd-${alg}-forwarded`,
        `${alg}: backend.sign through p11-kit-client.so and p11-kit server (unix socket)`,
        'signatures/s',
        perSecond(r.forwarded),
      );
      const l = series(
        `fwd-${alg}-local`,
        `${alg}: backend.sign on the same token through libsofthsm2.so`,
        'signatures/s',
        perSecond(r.local),
      );
      out.series.push(f, l);
      out.comparisons.push(compare(`${alg} signatures/s: forwarded token ÷ local token`, f, l));
    } finally {
      await server.stop();
    }
  }
  for (const alg of ['RSA-OAEP-256', 'ECDH-ES']) {
    const count = ctx.quick ? 50 : alg === 'ECDH-ES' ? 400 : 200;
    const blocks = ctx.quick ? 2 : 4;
    ctx.log(`${alg}: ${blocks} alternating blocks of ${count} decryptions, backend and graphene-pk11`);
    const tk = token(stores, `bench-dec-${alg.toLowerCase().replace(/[^a-z0-9]/g, '')}`);
    const r = runWorker(ctx, 'hsm', ['decrypt', tk.uri, alg, String(count), String(blocks)], tk.env);
    const what =
      alg === 'ECDH-ES'
        ? 'deriveSharedSecret (CKM_ECDH1_DERIVE, read CKA_VALUE)'
        : 'unwrapKey (CKM_RSA_X_509 + OAEP decoded in the host)';
    const b = series(
      `decrypt-${alg}-backend`,
      `${alg}: backend.${what.split(' ')[0]} with a key reference`,
      'decryptions/s',
      perSecond(r.backend),
    );
    const g = series(
      `decrypt-${alg}-raw`,
      `${alg}: graphene-pk11 directly (${what.slice(what.indexOf('(') + 1, -1)})`,
      'decryptions/s',
      perSecond(r.raw),
    );
    const gc = series(
      `decrypt-${alg}-raw-checked`,
      `${alg}: graphene-pk11 directly, plus the backend's check of its kept handle (one C_GetAttributeValue)`,
      'decryptions/s',
      perSecond(r.rawChecked),
    );
    out.series.push(b, g, gc);
    out.comparisons.push(
      compare(`${alg} decryptions/s: backend ÷ graphene-pk11 directly`, b, g, {
        op: '>=',
        value: 0.9,
        text: 'as issue 13 asks',
      }),
      compare(`${alg} decryptions/s: backend ÷ graphene-pk11 with the same handle check`, b, gc),
    );
  }
  return {
    ...meta,
    description:
      "A fresh SoftHSM2 token (own configuration directory) for each measurement. Key creation: per key, the backend's createKey in one long-lived process (asked for one key at a time, in turn with the other) against a whole `pkcs11-tool` process (module load, C_Initialize, login, keygen); rates are 1000 ÷ ms per key; goals ours: a reused session must beat a process per key for EC (≥ 1), RSA keygen dominates (≥ 0.9). Signing (goals of issue 11): one key; per signature, the backend's sign with the key reference (as `keymint sign` does) against graphene-pk11 with the session and key handle held (≥ 0.9), and against graphene-pk11 plus the one C_GetAttributeValue with which the backend checks a kept handle (class, id, label, curve) before it signs: the floor of a backend that never signs with a stale handle. Concurrency: throughput of as many signers at once as there are cores (at least 2), one backend and its session pool, against one signer in the same loop (≥ 1.8), and graphene-pk11 with as many sessions against one: what the token and the machine allow. Forwarding: the backend through p11-kit-client.so and `p11-kit server` on a unix socket against the backend on the same token through libsofthsm2.so, in alternating blocks (no goal: the cost of the socket). Every series alternates in blocks in one process. Decryption: the private-key step of a JWE (RSA-OAEP-256: raw RSA on the token, as SoftHSM 2.6 has no OAEP with SHA-256, and the OAEP block decoded in the host; ECDH-ES: CKM_ECDH1_DERIVE into a session key whose CKA_VALUE is read, then destroyed) through the backend with the key reference, against graphene-pk11 doing the same with session and key handle held (issue 13 asks ≥ 0.9), and with the backend's handle check added.",
    ...out,
  };
}
