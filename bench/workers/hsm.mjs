// The in-process half of case 5, on a SoftHSM token (SOFTHSM2_CONF set by the caller):
//   node hsm.mjs create <uri> <EC|RSA>
//     one backend (one session, one login); makes one key with createKey for each line read on
//     stdin and answers each with one line: the ms it took (the first key: module load, session
//     and login included). The caller interleaves these with its pkcs11-tool runs.
//   node hsm.mjs sign <uri> <ES256|RS256> <count> <blocks>
//     makes one key through the backend, then alternates blocks of `count` signatures through the
//     backend and through graphene-pk11 called directly (same module, token, key and mechanism);
//     prints { backend: [ms per signature], raw: [ms per signature] }
//   node hsm.mjs decrypt <uri> <RSA-OAEP-256|ECDH-ES> <count> <blocks>
//     the same for decryption's private-key step: the backend's unwrapKey or deriveSharedSecret
//     with a key reference, against graphene-pk11 doing the same on the token directly
import { constants, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createKey, decodeOaepBlock } from '@keymint/core';
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
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (op === 'decrypt') {
  // Decryption's private-key step on the token, per operation: RSA-OAEP-256 (unwrapKey) or
  // ECDH-ES (deriveSharedSecret), through the backend with the key reference, against graphene-pk11
  // with session and key handle held. SoftHSM 2.6 does OAEP with SHA-1 only, so both do what the
  // backend does there: raw RSA (CKM_RSA_X_509) on the token and the OAEP block decoded in the host.
  const alg = kind;
  const rsa = alg === 'RSA-OAEP-256';
  const maker = await pkcs11Backend({ uri, pin: PIN });
  const key = await createKey(maker, rsa ? { kty: 'RSA', size: 2048, use: 'enc', alg } : { kty: 'EC', crv: 'P-256', use: 'enc', alg });
  await maker.close();
  const id = parsePkcs11Uri(key.private.reference.location.uri).id;
  const { token: label, modulePath } = parsePkcs11Uri(uri);
  const cek = randomBytes(32);
  const encryptedKey = rsa ? publicEncrypt({ key: createPublicKey({ key: key.publicJwk, format: 'jwk' }), padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, cek) : undefined;
  const peer = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const peerJwk = peer.publicKey.export({ format: 'jwk' });
  const expectedZ = rsa ? undefined : diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: key.publicJwk, format: 'jwk' }) });
  const check = (out) => {
    if (!Buffer.from(out).equals(rsa ? cek : expectedZ)) throw new Error(`${alg}: the token gave another result`);
  };

  const result = { backend: [], raw: [] };
  for (let block = 0; block < Number(blocksText ?? 2); block++) {
    const backend = await pkcs11Backend({ pin: PIN });
    const once = () => (rsa ? backend.unwrapKey(key.private, alg, encryptedKey, { cekLength: 32 }) : backend.deriveSharedSecret(key.private, peerJwk));
    for (let i = 0; i < 3; i++) check(await once());
    for (let i = 0; i < count; i++) {
      const t = now();
      await once();
      result.backend.push(now() - t);
    }
    await backend.close();

    const module = graphene.Module.load(modulePath, 'SoftHSM');
    module.initialize();
    try {
      const slot = [...module.getSlots(true)].find((s) => s.getToken().label.trim() === label);
      const session = slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION);
      session.login(PIN, graphene.UserType.USER);
      const priv = session.find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id) }).items(0).toType();
      const lib = session.lib;
      const point = Buffer.concat([Buffer.of(4), Buffer.from(peerJwk.x, 'base64url'), Buffer.from(peerJwk.y, 'base64url')]);
      const template = graphene.Template.toPkcs11({ class: graphene.ObjectClass.SECRET_KEY, keyType: graphene.KeyType.GENERIC_SECRET, token: false, sensitive: false, extractable: true, valueLen: 32 });
      const rawOnce = async () => {
        if (rsa) {
          lib.C_DecryptInit(session.handle, { mechanism: graphene.MechanismEnum.RSA_X_509 }, priv.handle);
          return decodeOaepBlock(await lib.C_DecryptAsync(session.handle, encryptedKey, Buffer.alloc(256)), 'sha256', 32);
        }
        const mechanism = { mechanism: graphene.MechanismEnum.ECDH1_DERIVE, parameter: new graphene.EcdhParams(graphene.EcKdf.NULL, null, point).toCKI() };
        const derived = lib.C_DeriveKey(session.handle, mechanism, priv.handle, template);
        const [value] = lib.C_GetAttributeValue(session.handle, derived, [{ type: 0x11 }]);
        lib.C_DestroyObject(session.handle, derived);
        return value.value;
      };
      for (let i = 0; i < 3; i++) check(await rawOnce());
      for (let i = 0; i < count; i++) {
        const t = now();
        await rawOnce();
        result.raw.push(now() - t);
      }
      session.logout();
      session.close();
    } finally {
      module.finalize();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  throw new Error('usage: hsm.mjs create <uri> <EC|RSA> | sign <uri> <ES256|RS256> <count> <blocks> | decrypt <uri> <RSA-OAEP-256|ECDH-ES> <count> <blocks>');
}
