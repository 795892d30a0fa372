import type { Slot } from 'graphene-pk11';
import { algorithmsFor, type KeyTypeSupport } from '@keymint/core';
import { TOKEN_CURVES } from './ec-curves.js';
import type { ModuleQuirks } from './module-quirks.js';
import { CKF_MECHANISM, CKM } from './pkcs11-constants.js';

/** One entry of a token's mechanism list (CK_MECHANISM_INFO). */
export interface MechanismInfo {
  type: number;
  minKeySize: number;
  maxKeySize: number;
  flags: number;
}

export type MechanismTable = ReadonlyMap<number, MechanismInfo>;

/**
 * A token's mechanisms (C_GetMechanismList and C_GetMechanismInfo). A mechanism whose info cannot
 * be read is left out.
 */
export function readMechanisms(slot: Slot): Map<number, MechanismInfo> {
  const list = slot.getMechanisms();
  const out = new Map<number, MechanismInfo>();
  for (let i = 0; i < list.length; i++) {
    const m = list.tryGetItem(i);
    if (m !== null)
      out.set(m.type as number, {
        type: m.type as number,
        minKeySize: m.minKeySize,
        maxKeySize: m.maxKeySize,
        flags: m.flags,
      });
  }
  return out;
}

/** True when the token has the mechanism for this kind of use (a module that sets no flags at all is taken at its word). */
export function can(mechanisms: MechanismTable, type: number, flags: number): boolean {
  const m = mechanisms.get(type);
  return m !== undefined && (m.flags === 0 || (m.flags & flags) !== 0);
}

function inRange(m: MechanismInfo | undefined, size: number): boolean {
  if (m === undefined) return false;
  if (m.minKeySize === 0 && m.maxKeySize === 0) return true;
  return size >= m.minKeySize && size <= m.maxKeySize;
}

const RSA_SIGN: Record<string, readonly number[]> = {
  RS256: [CKM.SHA256_RSA_PKCS, CKM.RSA_PKCS],
  RS384: [CKM.SHA384_RSA_PKCS, CKM.RSA_PKCS],
  RS512: [CKM.SHA512_RSA_PKCS, CKM.RSA_PKCS],
  PS256: [CKM.SHA256_RSA_PKCS_PSS, CKM.RSA_PKCS_PSS],
  PS384: [CKM.SHA384_RSA_PKCS_PSS, CKM.RSA_PKCS_PSS],
  PS512: [CKM.SHA512_RSA_PKCS_PSS, CKM.RSA_PKCS_PSS],
};
const RSA_DECRYPT: Record<string, number> = {
  RSA1_5: CKM.RSA_PKCS,
  'RSA-OAEP': CKM.RSA_PKCS_OAEP,
  'RSA-OAEP-256': CKM.RSA_PKCS_OAEP,
};
const HMAC: Record<string, { mechanism: number; bits: number }> = {
  HS256: { mechanism: CKM.SHA256_HMAC, bits: 256 },
  HS384: { mechanism: CKM.SHA384_HMAC, bits: 384 },
  HS512: { mechanism: CKM.SHA512_HMAC, bits: 512 },
};
/** The oct algorithm sizes keymint allows (SIZE_LIMITS.oct.max in core). */
const OCT_MAX_BITS = 8192;
const AES_BITS = [128, 192, 256];

function rsaTypes(mechanisms: MechanismTable): KeyTypeSupport[] {
  const gen = mechanisms.get(CKM.RSA_PKCS_KEY_PAIR_GEN);
  if (gen === undefined || !can(mechanisms, CKM.RSA_PKCS_KEY_PAIR_GEN, CKF_MECHANISM.GENERATE_KEY_PAIR)) return [];
  const sizes = gen.minKeySize === 0 && gen.maxKeySize === 0 ? undefined : { min: gen.minKeySize, max: gen.maxKeySize };
  const sig = algorithmsFor('RSA', undefined, 'sig').filter((alg) =>
    (RSA_SIGN[alg] ?? []).some((m) => can(mechanisms, m, CKF_MECHANISM.SIGN)),
  );
  const enc = algorithmsFor('RSA', undefined, 'enc').filter((alg) =>
    can(mechanisms, RSA_DECRYPT[alg] as number, CKF_MECHANISM.DECRYPT | CKF_MECHANISM.UNWRAP),
  );
  const out: KeyTypeSupport[] = [];
  if (sig.length > 0) out.push({ kty: 'RSA', uses: ['sig'], algs: sig, ...(sizes === undefined ? {} : { sizes }) });
  if (enc.length > 0) out.push({ kty: 'RSA', uses: ['enc'], algs: enc, ...(sizes === undefined ? {} : { sizes }) });
  return out;
}

function curveTypes(mechanisms: MechanismTable, quirks: ModuleQuirks): KeyTypeSupport[] {
  const out: KeyTypeSupport[] = [];
  const ecGen = can(mechanisms, CKM.EC_KEY_PAIR_GEN, CKF_MECHANISM.GENERATE_KEY_PAIR)
    ? mechanisms.get(CKM.EC_KEY_PAIR_GEN)
    : undefined;
  for (const curve of TOKEN_CURVES) {
    if (quirks.brokenCurves.includes(curve.crv)) continue;
    if (curve.kty === 'EC') {
      if (!inRange(ecGen, curve.bits)) continue;
      if (can(mechanisms, CKM.ECDSA, CKF_MECHANISM.SIGN))
        out.push({ kty: 'EC', crv: curve.crv, uses: ['sig'], algs: algorithmsFor('EC', curve.crv, 'sig') });
      if (can(mechanisms, CKM.ECDH1_DERIVE, CKF_MECHANISM.DERIVE))
        out.push({ kty: 'EC', crv: curve.crv, uses: ['enc'], algs: algorithmsFor('EC', curve.crv, 'enc') });
    } else if (
      can(mechanisms, CKM.EC_EDWARDS_KEY_PAIR_GEN, CKF_MECHANISM.GENERATE_KEY_PAIR) &&
      can(mechanisms, CKM.EDDSA, CKF_MECHANISM.SIGN)
    ) {
      out.push({ kty: 'OKP', crv: curve.crv, uses: ['sig'], algs: ['EdDSA'] });
    }
  }
  return out;
}

function octTypes(mechanisms: MechanismTable): KeyTypeSupport[] {
  const out: KeyTypeSupport[] = [];
  if (can(mechanisms, CKM.GENERIC_SECRET_KEY_GEN, CKF_MECHANISM.GENERATE)) {
    for (const [alg, { mechanism, bits }] of Object.entries(HMAC)) {
      const hmac = mechanisms.get(mechanism);
      if (hmac === undefined || !can(mechanisms, mechanism, CKF_MECHANISM.SIGN)) continue;
      // HMAC key sizes in CK_MECHANISM_INFO are bytes.
      const min = Math.max(bits, hmac.minKeySize * 8);
      const max = hmac.maxKeySize === 0 ? OCT_MAX_BITS : Math.min(OCT_MAX_BITS, hmac.maxKeySize * 8);
      if (min <= max) out.push({ kty: 'oct', uses: ['sig'], algs: [alg], sizes: { min, max } });
    }
  }
  const aesGen = can(mechanisms, CKM.AES_KEY_GEN, CKF_MECHANISM.GENERATE) ? mechanisms.get(CKM.AES_KEY_GEN) : undefined;
  if (aesGen !== undefined) {
    // AES key sizes in CK_MECHANISM_INFO are bytes.
    const sizes = AES_BITS.filter((bits) => inRange(aesGen, bits / 8));
    const wrap = can(mechanisms, CKM.AES_KEY_WRAP, CKF_MECHANISM.WRAP | CKF_MECHANISM.ENCRYPT);
    const gcm = can(mechanisms, CKM.AES_GCM, CKF_MECHANISM.ENCRYPT);
    const algs = algorithmsFor('oct', undefined, 'enc').filter((alg) => (/^A\d+KW$/.test(alg) ? wrap : gcm));
    if (sizes.length > 0 && algs.length > 0) out.push({ kty: 'oct', uses: ['enc'], algs, sizes });
  }
  return out;
}

/**
 * The kinds of key a token can make and use, from its mechanism list: a key type is declared only
 * when the token can both generate it and do what its use needs (sign, decrypt, derive, wrap).
 * Curves the module is known to get wrong are left out.
 * @example tokenKeyTypes(readMechanisms(slot), quirksOf(handle.info))
 */
export function tokenKeyTypes(mechanisms: MechanismTable, quirks: ModuleQuirks): KeyTypeSupport[] {
  return [...rsaTypes(mechanisms), ...curveTypes(mechanisms, quirks), ...octTypes(mechanisms)];
}

/** Everything a PKCS#11 token could offer, for a backend that has no token yet. */
export function anyTokenKeyTypes(): KeyTypeSupport[] {
  const all = new Map<number, MechanismInfo>();
  for (const type of Object.values(CKM)) all.set(type, { type, minKeySize: 0, maxKeySize: 0, flags: 0 });
  return tokenKeyTypes(all, { brokenCurves: [], publicUsageFromKey: false, transientGeneralError: false });
}
