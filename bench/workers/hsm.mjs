// The in-process half of case 5, on a SoftHSM token (SOFTHSM2_CONF set by the caller):
//   node hsm.mjs create <uri> <EC|RSA>
//     one backend (one session, one login); makes one key with createKey for each line read on
//     stdin and answers each with one line: the ms it took (the first key: module load, session
//     and login included). The caller interleaves these with its pkcs11-tool runs.
//   node hsm.mjs sign <uri> <ES256|RS256> <count> <blocks>
//     makes one key through the backend, then alternates blocks of `count` signatures through the
//     backend and through graphene-pk11 called directly (same module, token, key and mechanism);
//     prints { backend: [ms per signature], raw: [ms per signature] }
import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createKey } from '@keymint/core';
import { parsePkcs11Uri, pkcs11Backend } from '@keymint/backend-pkcs11';
import graphene from 'graphene-pk11';

const [op, uri, kind, countText, blocksText] = process.argv.slice(2);
const count = Number(countText ?? 0);
const PIN = process.env.BENCH_PKCS11_PIN ?? '';
const now = () => Number(process.hrtime.bigint()) / 1e6;

if (op === 'create') {
  const params = kind === 'EC' ? { kty: 'EC', crv: 'P-256' } : { kty: 'RSA', size: 2048 };
  const backend = await pkcs11Backend({ uri, pin: PIN });
  try {
    for await (const _ of createInterface({ input: process.stdin })) {
      const t = now();
      await createKey(backend, params);
      process.stdout.write(`${now() - t}\n`);
    }
  } finally {
    await backend.close();
  }
} else if (op === 'sign') {
  const alg = kind;
  const params = alg === 'ES256' ? { kty: 'EC', crv: 'P-256', alg } : { kty: 'RSA', size: 2048, alg };
  const data = new TextEncoder().encode('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9');
  const maker = await pkcs11Backend({ uri, pin: PIN });
  const key = await createKey(maker, params);
  await maker.close();
  const id = parsePkcs11Uri(key.private.reference.location.uri).id;
  const { token: label, modulePath } = parsePkcs11Uri(uri);

  const result = { backend: [], raw: [] };
  for (let block = 0; block < Number(blocksText ?? 2); block++) {
    // Through the backend: a fresh backend signing with the key reference, as `keymint sign` does.
    const backend = await pkcs11Backend({ pin: PIN });
    for (let i = 0; i < 3; i++) await backend.sign(key.private, alg, data);
    for (let i = 0; i < count; i++) {
      const t = now();
      await backend.sign(key.private, alg, data);
      result.backend.push(now() - t);
    }
    await backend.close();

    // graphene-pk11 directly: module, session and key found once; per signature only what any
    // caller must do: hash (ES256: CKM_ECDSA signs a digest), C_SignInit, C_Sign on the thread pool.
    const module = graphene.Module.load(modulePath, 'SoftHSM');
    module.initialize();
    try {
      const slot = [...module.getSlots(true)].find((s) => s.getToken().label.trim() === label);
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
      session.login(PIN, graphene.UserType.USER);
      const priv = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id) }).items(0).toType();
      const signOnce = (input) =>
        new Promise((resolve, reject) => {
          const mech = alg === 'ES256' ? 'ECDSA' : 'SHA256_RSA_PKCS';
          const msg = alg === 'ES256' ? createHash('sha256').update(input).digest() : Buffer.from(input);
          session.createSign(mech, priv).once(msg, (error, signature) => (error ? reject(error) : resolve(signature)));
        });
      for (let i = 0; i < 3; i++) await signOnce(data);
      for (let i = 0; i < count; i++) {
        const t = now();
        await signOnce(data);
        result.raw.push(now() - t);
      }
      session.logout();
      session.close();
    } finally {
      module.finalize();
    }
  }
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  throw new Error('usage: hsm.mjs create <uri> <EC|RSA> | sign <uri> <ES256|RS256> <count> <blocks>');
}
