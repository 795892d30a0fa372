// The in-process half of case 5, on a SoftHSM token (SOFTHSM2_CONF set by the caller):
//   node hsm.mjs create <uri> <EC|RSA>
//     one backend (one session, one login); makes one key with createKey for each line read on
//     stdin and answers each with one line: the ms it took (the first key: module load, session
//     and login included). The caller interleaves these with its pkcs11-tool runs.
//   node hsm.mjs sign <uri> <ES256|RS256> <count> <blocks> <signers>
//     makes one key through the backend, then alternates blocks of signatures made
//       backend:       backend.sign with the key reference, one at a time (as `keymint sign` does)
//       raw:           graphene-pk11 directly, session and key handle held, one at a time
//       rawChecked:    the same, plus the one C_GetAttributeValue the backend makes to check its
//                      cached handle (class, id, label, and the curve of an EC key)
//       backendN:      <signers> concurrent backend.sign calls on one backend (its session pool)
//       backend1:      the same loop with one signer, the reference for backendN
//       rawN, raw1:    graphene-pk11 with <signers> sessions signing at once, and with one
//     prints { backend, raw, rawChecked: [ms per signature], backendN, backend1, rawN, raw1:
//     [ms per signature, as throughput over chunks] }
//   node hsm.mjs forward <local uri> <forwarded uri> <ES256|RS256> <count> <blocks>
//     makes one key on the local token, then alternates blocks of backend.sign through the local
//     module and through the forwarded one (p11-kit-client.so, the same token behind p11-kit
//     server); prints { local, forwarded: [ms per signature] }
//   node hsm.mjs decrypt <uri> <RSA-OAEP-256|ECDH-ES> <count> <blocks>
//     the same for decryption's private-key step: the backend's unwrapKey or deriveSharedSecret
//     with a key reference, against graphene-pk11 doing the same on the token directly
import { constants, createHash, createPublicKey, diffieHellman, publicEncrypt, randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { createKey, decodeOaepBlock } from '@keymint/core';
import { parsePkcs11Uri, pkcs11Backend } from '@keymint/backend-pkcs11';
import graphene from 'graphene-pk11';
import { newKeyPair } from '@keymint/test-kit/keys';

const [op, ...args] = process.argv.slice(2);
const PIN = process.env.BENCH_PKCS11_PIN ?? '';
const now = () => Number(process.hrtime.bigint()) / 1e6;
const DATA = new TextEncoder().encode('eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9');
/** Signatures per signer in one throughput sample. */
const CHUNK = 25;

const paramsOf = (alg) => (alg === 'ES256' ? { kty: 'EC', crv: 'P-256', alg } : { kty: 'RSA', size: 2048, alg });

/** One key made through the backend on the token of `uri`. */
async function makeKey(uri, alg) {
  const maker = await pkcs11Backend({ uri, pin: PIN });
  try {
    return await createKey(maker, paramsOf(alg));
  } finally {
    await maker.close();
  }
}

/** ms per signature of `count` calls of `once`, one at a time, each timed. */
async function oneByOne(once, count, out) {
  for (let i = 0; i < 3; i++) await once(0);
  for (let i = 0; i < count; i++) {
    const t = now();
    await once(0);
    out.push(now() - t);
  }
}

/** ms per signature as throughput: `signers` loops of `once(signer)` at once, timed per chunk. */
async function together(once, signers, count, out) {
  await Promise.all(Array.from({ length: signers }, (_, s) => once(s)));
  for (let done = 0; done < count; done += CHUNK) {
    const t = now();
    await Promise.all(
      Array.from({ length: signers }, async (_, s) => {
        for (let i = 0; i < CHUNK; i++) await once(s);
      }),
    );
    out.push((now() - t) / (CHUNK * signers));
  }
}

/** graphene-pk11 with `sessions` sessions on the token, the key found once; per signature only what any caller must do. */
function rawSigner(uri, id, alg, sessions) {
  const { token: label, modulePath } = parsePkcs11Uri(uri);
  const module = graphene.Module.load(modulePath, 'SoftHSM');
  // CKF_OS_LOCKING_OK, as the backend initializes it: sessions are used from several threads at once.
  module.initialize({ flags: 0x2 });
  const slot = [...module.getSlots(true)].find((s) => s.getToken().label.trim() === label);
  const open = Array.from({ length: sessions }, () =>
    slot.open(graphene.SessionFlag.SERIAL_SESSION | graphene.SessionFlag.RW_SESSION),
  );
  open[0].login(PIN, graphene.UserType.USER);
  const key = open[0]
    .find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id) })
    .items(0)
    .toType();
  const mechanism = alg === 'ES256' ? 'ECDSA' : 'SHA256_RSA_PKCS';
  // What the backend reads to check a cached handle: CKA_CLASS, CKA_ID, CKA_LABEL, and CKA_EC_PARAMS of an EC key.
  const checked = [0x0, 0x102, 0x3, ...(alg === 'ES256' ? [0x180] : [])].map((type) => ({ type }));
  const sign = (session, check) =>
    new Promise((resolve, reject) => {
      if (check) session.lib.C_GetAttributeValue(session.handle, key.handle, checked);
      // ES256: CKM_ECDSA signs a digest made here, as the backend does.
      const input = alg === 'ES256' ? createHash('sha256').update(DATA).digest() : Buffer.from(DATA);
      session
        .createSign(mechanism, key)
        .once(input, (error, signature) => (error ? reject(error) : resolve(signature)));
    });
  return {
    sign: (s, check = false) => sign(open[s], check),
    close() {
      open[0].logout();
      for (const session of open) session.close();
      module.finalize();
    },
  };
}

if (op === 'create') {
  const [uri, kind] = args;
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
  const [uri, alg, countText, blocksText, signersText] = args;
  const count = Number(countText);
  const signers = Number(signersText ?? 2);
  const key = await makeKey(uri, alg);
  const id = parsePkcs11Uri(key.private.reference.location.uri).id;
  const result = { backend: [], raw: [], rawChecked: [], backendN: [], backend1: [], rawN: [], raw1: [] };
  for (let block = 0; block < Number(blocksText); block++) {
    // A fresh backend per block, signing with the key reference, as `keymint sign` does.
    const backend = await pkcs11Backend({ pin: PIN });
    const viaBackend = () => backend.sign(key.private, alg, DATA);
    await oneByOne(viaBackend, count, result.backend);
    await together(viaBackend, 1, count, result.backend1);
    await together(viaBackend, signers, count, result.backendN);
    await backend.close();

    const raw = rawSigner(uri, id, alg, signers);
    try {
      await oneByOne((s) => raw.sign(s), count, result.raw);
      await oneByOne((s) => raw.sign(s, true), count, result.rawChecked);
      await together((s) => raw.sign(s), 1, count, result.raw1);
      await together((s) => raw.sign(s), signers, count, result.rawN);
    } finally {
      raw.close();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (op === 'forward') {
  const [localUri, forwardedUri, alg, countText, blocksText] = args;
  const count = Number(countText);
  const key = await makeKey(localUri, alg);
  const { modulePath } = parsePkcs11Uri(forwardedUri);
  // The same key through the client module: the reference's URI with the client as its module.
  const forwarded = {
    ...key.private,
    reference: {
      ...key.private.reference,
      location: {
        uri: key.private.reference.location.uri.replace(/\?module-path=[^&]*/, `?module-path=${modulePath}`),
      },
    },
  };
  const result = { local: [], forwarded: [] };
  for (let block = 0; block < Number(blocksText); block++) {
    for (const [name, reference] of [
      ['local', key.private],
      ['forwarded', forwarded],
    ]) {
      const backend = await pkcs11Backend({ pin: PIN });
      await oneByOne(() => backend.sign(reference, alg, DATA), count, result[name]);
      await backend.close();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else if (op === 'decrypt') {
  // Decryption's private-key step on the token, per operation: RSA-OAEP-256 (unwrapKey) or
  // ECDH-ES (deriveSharedSecret), through the backend with the key reference, against graphene-pk11
  // with session and key handle held. SoftHSM 2.6 does OAEP with SHA-1 only, so both do what the
  // backend does there: raw RSA (CKM_RSA_X_509) on the token and the OAEP block decoded in the host.
  const [uri, alg, countText, blocksText] = args;
  const count = Number(countText);
  const rsa = alg === 'RSA-OAEP-256';
  const maker = await pkcs11Backend({ uri, pin: PIN });
  const key = await createKey(
    maker,
    rsa ? { kty: 'RSA', size: 2048, use: 'enc', alg } : { kty: 'EC', crv: 'P-256', use: 'enc', alg },
  );
  await maker.close();
  const id = parsePkcs11Uri(key.private.reference.location.uri).id;
  const { token: label, modulePath } = parsePkcs11Uri(uri);
  const cek = randomBytes(32);
  const encryptedKey = rsa
    ? publicEncrypt(
        {
          key: createPublicKey({ key: key.publicJwk, format: 'jwk' }),
          padding: constants.RSA_PKCS1_OAEP_PADDING,
          oaepHash: 'sha256',
        },
        cek,
      )
    : undefined;
  const peer = newKeyPair('ec', { namedCurve: 'prime256v1' });
  const peerJwk = peer.publicJwk;
  const expectedZ = rsa
    ? undefined
    : diffieHellman({ privateKey: peer.privateKey, publicKey: createPublicKey({ key: key.publicJwk, format: 'jwk' }) });
  const check = (out) => {
    if (!Buffer.from(out).equals(rsa ? cek : expectedZ)) throw new Error(`${alg}: the token gave another result`);
  };

  const result = { backend: [], raw: [], rawChecked: [] };
  for (let block = 0; block < Number(blocksText ?? 2); block++) {
    const backend = await pkcs11Backend({ pin: PIN });
    const once = () =>
      rsa
        ? backend.unwrapKey(key.private, alg, encryptedKey, { cekLength: 32 })
        : backend.deriveSharedSecret(key.private, peerJwk);
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
      const priv = session
        .find({ class: graphene.ObjectClass.PRIVATE_KEY, id: Buffer.from(id) })
        .items(0)
        .toType();
      const lib = session.lib;
      const point = Buffer.concat([
        Buffer.of(4),
        Buffer.from(peerJwk.x, 'base64url'),
        Buffer.from(peerJwk.y, 'base64url'),
      ]);
      const template = graphene.Template.toPkcs11({
        class: graphene.ObjectClass.SECRET_KEY,
        keyType: graphene.KeyType.GENERIC_SECRET,
        token: false,
        sensitive: false,
        extractable: true,
        valueLen: 32,
      });
      // What the backend reads to check its kept handle: CKA_CLASS, CKA_ID, CKA_LABEL (and CKA_EC_PARAMS).
      const checked = [0x0, 0x102, 0x3, ...(rsa ? [] : [0x180])].map((type) => ({ type }));
      const rawOnce = async (withCheck = false) => {
        if (withCheck) lib.C_GetAttributeValue(session.handle, priv.handle, checked);
        if (rsa) {
          lib.C_DecryptInit(session.handle, { mechanism: graphene.MechanismEnum.RSA_X_509 }, priv.handle);
          return decodeOaepBlock(
            await lib.C_DecryptAsync(session.handle, encryptedKey, Buffer.alloc(256)),
            'sha256',
            32,
          );
        }
        const mechanism = {
          mechanism: graphene.MechanismEnum.ECDH1_DERIVE,
          parameter: new graphene.EcdhParams(graphene.EcKdf.NULL, null, point).toCKI(),
        };
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
      for (let i = 0; i < count; i++) {
        const t = now();
        await rawOnce(true);
        result.rawChecked.push(now() - t);
      }
      session.logout();
      session.close();
    } finally {
      module.finalize();
    }
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} else {
  throw new Error(
    'usage: hsm.mjs create <uri> <EC|RSA> | sign <uri> <alg> <count> <blocks> <signers> | forward <local uri> <forwarded uri> <alg> <count> <blocks> | decrypt <uri> <RSA-OAEP-256|ECDH-ES> <count> <blocks>',
  );
}
