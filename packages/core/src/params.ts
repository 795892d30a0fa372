import { ErrorCode, KeymintError, message, oneOf, param, type MessageParts } from './errors.js';

/**
 * The one table of key parameters: key types, curves, algorithms, uses and sizes, with their
 * defaults. Every backend and the CLI take their rules from here.
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-6 (JWA key types)
 * @see https://www.rfc-editor.org/rfc/rfc8037 (OKP)
 */

export const KEY_TYPES = ['EC', 'OKP', 'RSA', 'oct'] as const;
export type Kty = (typeof KEY_TYPES)[number];

export const EC_CURVES = ['P-256', 'P-384', 'P-521', 'secp256k1'] as const;
export const OKP_CURVES = ['Ed25519', 'Ed448', 'X25519', 'X448'] as const;
export type EcCurve = (typeof EC_CURVES)[number];
export type OkpCurve = (typeof OKP_CURVES)[number];
export type Curve = EcCurve | OkpCurve;

/** The two uses RFC 7517 §4.2 defines; any other value is carried through unchecked. */
export type KeyUse = 'sig' | 'enc';

interface CurveRule {
  kty: 'EC' | 'OKP';
  /** The signature algorithm the curve is bound to; absent for key-agreement-only curves. */
  sigAlg?: SignatureAlgorithm;
  /** Whether the curve can do ECDH key agreement. */
  agreement: boolean;
  /** Bytes of a coordinate (EC x, y, d) or of a key (OKP x, d): RFC 7518 §6.2.1.2, RFC 8037 §2. */
  bytes: number;
}

const CURVE_RULES: Record<Curve, CurveRule> = {
  'P-256': { kty: 'EC', sigAlg: 'ES256', agreement: true, bytes: 32 },
  'P-384': { kty: 'EC', sigAlg: 'ES384', agreement: true, bytes: 48 },
  'P-521': { kty: 'EC', sigAlg: 'ES512', agreement: true, bytes: 66 },
  secp256k1: { kty: 'EC', sigAlg: 'ES256K', agreement: true, bytes: 32 },
  Ed25519: { kty: 'OKP', sigAlg: 'EdDSA', agreement: false, bytes: 32 },
  Ed448: { kty: 'OKP', sigAlg: 'EdDSA', agreement: false, bytes: 57 },
  X25519: { kty: 'OKP', agreement: true, bytes: 32 },
  X448: { kty: 'OKP', agreement: true, bytes: 56 },
};

/** The JWS algorithms a key can be for (RFC 7518 §3.1, RFC 8037 §3.1, RFC 8812 §3.2). */
export const SIGNATURE_ALGORITHMS = [
  'HS256',
  'HS384',
  'HS512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'ES256K',
  'EdDSA',
] as const;
/** The JWE key management algorithms a key can be for (RFC 7518 §4.1), PBES2 aside: those are for passwords. */
export const KEY_MANAGEMENT_ALGORITHMS = [
  'dir',
  'A128KW',
  'A192KW',
  'A256KW',
  'A128GCMKW',
  'A192GCMKW',
  'A256GCMKW',
  'RSA1_5',
  'RSA-OAEP',
  'RSA-OAEP-256',
  'ECDH-ES',
  'ECDH-ES+A128KW',
  'ECDH-ES+A192KW',
  'ECDH-ES+A256KW',
] as const;
export type SignatureAlgorithm = (typeof SIGNATURE_ALGORITHMS)[number];
export type KeyManagementAlgorithm = (typeof KEY_MANAGEMENT_ALGORITHMS)[number];
export type KeyAlgorithm = SignatureAlgorithm | KeyManagementAlgorithm;

const CURVES_BY_KTY: Record<'EC' | 'OKP', readonly Curve[]> = { EC: EC_CURVES, OKP: OKP_CURVES };

const ECDH_ALGS = ['ECDH-ES', 'ECDH-ES+A128KW', 'ECDH-ES+A192KW', 'ECDH-ES+A256KW'] as const;
const SIG_ALGS: Record<'RSA' | 'oct', readonly SignatureAlgorithm[]> = {
  RSA: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'],
  oct: ['HS256', 'HS384', 'HS512'],
};
const ENC_ALGS: Record<'RSA' | 'oct', readonly KeyManagementAlgorithm[]> = {
  RSA: ['RSA1_5', 'RSA-OAEP', 'RSA-OAEP-256'],
  oct: ['dir', 'A128KW', 'A192KW', 'A256KW', 'A128GCMKW', 'A192GCMKW', 'A256GCMKW'],
};
/** Algorithms accepted only with --subtle: RSA1_5 is open to padding-oracle attacks (RFC 8725 §3.2). */
const SUBTLE_ALGS = new Set(['RSA1_5']);

const DEFAULT_CRV: Record<'EC' | 'OKP', Curve> = { EC: 'P-256', OKP: 'Ed25519' };
const DEFAULT_ALG: Record<KeyUse, Record<'RSA' | 'oct', KeyAlgorithm>> = {
  sig: { RSA: 'RS256', oct: 'HS256' },
  enc: { RSA: 'RSA-OAEP-256', oct: 'A256GCMKW' },
};

/**
 * oct key sizes in bits that an algorithm dictates. `exact`: the key must be that size (AES key
 * wrap); otherwise it is a minimum (HMAC keys must be at least the hash size, RFC 7518 §3.2).
 */
const OCT_ALG_SIZE: Record<string, { bits: number; exact: boolean }> = {
  HS256: { bits: 256, exact: false },
  HS384: { bits: 384, exact: false },
  HS512: { bits: 512, exact: false },
  A128KW: { bits: 128, exact: true },
  A192KW: { bits: 192, exact: true },
  A256KW: { bits: 256, exact: true },
  A128GCMKW: { bits: 128, exact: true },
  A192GCMKW: { bits: 192, exact: true },
  A256GCMKW: { bits: 256, exact: true },
};
/** "dir" keys are content-encryption keys: the sizes of the A*GCM and A*CBC-HS* encryptions. */
const DIR_SIZES = [128, 192, 256, 384, 512];

/**
 * The alg an oct key of `bits` bits gets when a size is given and no alg: the strongest HMAC whose
 * hash fits in the key (RFC 7518 §3.2), or the AES key wrap of exactly that size, else `dir` for
 * the sizes of A192CBC-HS384 and A256CBC-HS512 keys. Undefined when none fits.
 */
function octAlgForSize(use: KeyUse, bits: number): KeyAlgorithm | undefined {
  if (use === 'sig') return bits >= 512 ? 'HS512' : bits >= 384 ? 'HS384' : bits >= 256 ? 'HS256' : undefined;
  const wrap: Record<number, KeyAlgorithm> = {
    128: 'A128GCMKW',
    192: 'A192GCMKW',
    256: 'A256GCMKW',
    384: 'dir',
    512: 'dir',
  };
  return wrap[bits];
}

/** The sizes some alg fits, for the message when none does. */
const OCT_SIZES_THAT_FIT: Record<KeyUse, string> = {
  sig: '256 bits or more (HS256; HS384 from 384, HS512 from 512)',
  enc: '128, 192 or 256 (AES key wrap), or 384 or 512 (dir)',
};

export const SIZE_LIMITS = {
  RSA: { default: 2048, min: 2048, insecureMin: 512, max: 16384 },
  oct: { default: 128, min: 128, insecureMin: 8, max: 8192 },
} as const;

/**
 * What a program asks for: every field optional, every value typed, so that a typo
 * (`kty: 'ECC'`, `alg: 'ES265'`) fails to compile. Values are checked again at run time.
 */
export interface KeyParams {
  kty?: Kty;
  crv?: Curve;
  /** Bits: RSA 2048..16384, oct 128..8192. */
  size?: number;
  alg?: KeyAlgorithm;
  use?: KeyUse;
  kid?: string;
  /** Allow sizes below the secure minimums. */
  insecure?: boolean;
  /** Allow algorithms that are easy to misuse (RSA1_5). */
  subtle?: boolean;
}

/**
 * The same request as strings typed on a command line: validated by the same rules. A `use`
 * other than sig and enc is carried through, as step does.
 */
export interface KeyParamsInput {
  kty?: string;
  crv?: string;
  size?: string | number;
  alg?: string;
  use?: string;
  kid?: string;
  /** Allow sizes below the secure minimums. */
  insecure?: boolean;
  /** Allow algorithms that are easy to misuse (RSA1_5). */
  subtle?: boolean;
}

/** A validated request with every default applied. Backends receive only this. */
export interface KeySpec {
  kty: Kty;
  crv?: Curve;
  /** Bits, for RSA and oct keys. */
  size?: number;
  alg?: string;
  use: string;
  kid?: string;
}

/** The parameters of a key, as messages name them (the CLI writes each as its flag). */
const P = {
  kty: param('kty'),
  crv: param('crv'),
  size: param('size'),
  alg: param('alg'),
  use: param('use'),
  kid: param('kid'),
} as const;

function invalid(about: keyof typeof P, text: MessageParts, hint?: MessageParts | string): KeymintError {
  return new KeymintError(
    ErrorCode.PARAM_INVALID,
    text,
    hint === undefined ? { param: about } : { param: about, hint },
  );
}

function isOneOf<T extends string>(value: string, list: readonly T[]): value is T {
  return (list as readonly string[]).includes(value);
}

/**
 * The algorithms a key of this type and curve may carry for a use. Empty for a use other than
 * sig or enc (those are not checked).
 * @example algorithmsFor('EC', 'P-384', 'sig') // ['ES384']
 */
export function algorithmsFor(kty: Kty, crv: Curve | undefined, use: string): readonly KeyAlgorithm[] {
  if (use !== 'sig' && use !== 'enc') return [];
  if (kty === 'RSA' || kty === 'oct') return use === 'sig' ? SIG_ALGS[kty] : ENC_ALGS[kty];
  const rule = crv === undefined ? undefined : CURVE_RULES[crv];
  if (rule === undefined) return [];
  if (use === 'sig') return rule.sigAlg === undefined ? [] : [rule.sigAlg];
  return rule.agreement ? ECDH_ALGS : [];
}

/** The signature algorithm a curve is bound to (ES256 for P-256 ...), if it signs at all. */
export function signatureAlgorithmOfCurve(crv: Curve): SignatureAlgorithm | undefined {
  return CURVE_RULES[crv].sigAlg;
}

/** The use (sig or enc) an algorithm belongs to, or undefined for an unknown algorithm. */
export function useOfAlgorithm(alg: string): KeyUse | undefined {
  if (isOneOf(alg, SIGNATURE_ALGORITHMS)) return 'sig';
  if (isOneOf(alg, KEY_MANAGEMENT_ALGORITHMS)) return 'enc';
  return undefined;
}

export function isCurve(value: string): value is Curve {
  return Object.hasOwn(CURVE_RULES, value);
}

/** The key type a curve belongs to (EC or OKP). */
export function ktyOfCurve(crv: Curve): 'EC' | 'OKP' {
  return CURVE_RULES[crv].kty;
}

/** Bytes of each coordinate (EC) or of the key (OKP) on a curve: P-256 32, P-521 66, Ed448 57 ... */
export function curveBytes(crv: Curve): number {
  return CURVE_RULES[crv].bytes;
}

function parseSize(raw: string | number): number {
  const text = String(raw).trim();
  if (!/^[0-9]+$/.test(text)) {
    throw invalid(
      'size',
      message`${P.size} "${String(raw)}" is not a number: give the key size in bits, e.g. ${P.size} 2048`,
    );
  }
  const bits = Number.parseInt(text, 10);
  if (bits <= 0) throw invalid('size', message`${P.size} ${bits} is not a positive number of bits`);
  return bits;
}

function resolveCurve(kty: Kty, crv: string | undefined): Curve | undefined {
  if (kty === 'RSA' || kty === 'oct') {
    if (crv !== undefined)
      throw invalid('crv', message`${P.crv} is not allowed with ${P.kty} ${kty}: only EC and OKP keys have a curve`);
    return undefined;
  }
  const curves = CURVES_BY_KTY[kty];
  if (crv === undefined) return DEFAULT_CRV[kty];
  if (!isOneOf(crv, curves)) {
    throw invalid('crv', message`${P.crv} "${crv}" is not a curve for ${P.kty} ${kty}: use ${oneOf(curves)}`);
  }
  return crv;
}

function resolveAlg(
  kty: Kty,
  crv: Curve | undefined,
  use: string,
  alg: string | undefined,
  subtle: boolean,
): string | undefined {
  if (alg?.startsWith('PBES2')) {
    throw invalid(
      'alg',
      message`${P.alg} ${alg} is for deriving keys from passwords, not for a key: pick another algorithm`,
    );
  }
  if (use !== 'sig' && use !== 'enc') return alg;
  const accepted = algorithmsFor(kty, crv, use);
  const what = crv === undefined ? message`${P.kty} ${kty}` : message`${P.kty} ${kty} ${P.crv} ${crv}`;
  if (accepted.length === 0) {
    const other = use === 'sig' ? 'enc' : 'sig';
    const kind = use === 'sig' ? 'a key-agreement curve: it cannot sign' : 'a signing curve: it cannot encrypt';
    const alternatives = use === 'sig' ? 'Ed25519 or Ed448' : 'X25519 or X448';
    throw invalid(
      'crv',
      message`${P.crv} ${String(crv)} is ${kind}`,
      message`use ${P.use} ${other}, or ${P.crv} ${alternatives} for ${P.use} ${use}`,
    );
  }
  if (alg === undefined) {
    return kty === 'RSA' || kty === 'oct' ? DEFAULT_ALG[use][kty] : accepted[0];
  }
  if (!isOneOf(alg, accepted)) {
    const otherUse = useOfAlgorithm(alg);
    const hint =
      otherUse !== undefined && otherUse !== use
        ? message`${alg} is an algorithm for ${P.use} ${otherUse}`
        : kty === 'EC' && useOfAlgorithm(alg) === 'sig'
          ? `each EC signature algorithm is bound to one curve (ES256: P-256, ES384: P-384, ES512: P-521, ES256K: secp256k1)`
          : undefined;
    throw invalid(
      'alg',
      [...message`${P.alg} "${alg}" does not fit `, ...what, ...message` ${P.use} ${use}: use ${oneOf(accepted)}`],
      hint,
    );
  }
  if (SUBTLE_ALGS.has(alg) && !subtle) {
    throw invalid(
      'alg',
      message`${P.alg} ${alg} is unsafe (padding-oracle attacks) and needs ${param('subtle')}`,
      'prefer RSA-OAEP-256',
    );
  }
  return alg;
}

/**
 * The size of a key, checked against the alg. `defaultFor` says the alg is the default of that use
 * (no size-fitting alg exists): a conflict then says so, and what to give instead.
 */
function resolveSize(
  kty: Kty,
  raw: string | number | undefined,
  alg: string | undefined,
  insecure: boolean,
  defaultFor?: KeyUse,
): number | undefined {
  if (kty === 'EC' || kty === 'OKP') {
    if (raw !== undefined)
      throw invalid('size', message`${P.size} is not allowed with ${P.kty} ${kty}: the curve sets the size`);
    return undefined;
  }
  const limits = SIZE_LIMITS[kty];
  const requested = raw === undefined ? undefined : parseSize(raw);
  const dictated = kty === 'oct' && alg !== undefined ? OCT_ALG_SIZE[alg] : undefined;
  const bits = requested ?? dictated?.bits ?? limits.default;
  if (kty === 'oct') {
    if (bits % 8 !== 0)
      throw invalid(
        'size',
        message`${P.size} ${bits} is not a whole number of bytes: oct sizes are bits, a multiple of 8`,
      );
    if (defaultFor !== undefined && dictated !== undefined) {
      throw invalid(
        'size',
        message`${P.size} ${bits} fits no ${P.alg} for ${P.use} ${defaultFor}: the default, ${String(alg)}, needs ${dictated.exact ? 'exactly' : 'at least'} ${dictated.bits} bits`,
        message`give ${P.size} ${OCT_SIZES_THAT_FIT[defaultFor]}, or ${P.use} with another value (only the key type is checked then)`,
      );
    }
    if (dictated?.exact && bits !== dictated.bits) {
      throw invalid(
        'size',
        message`${P.size} ${bits} conflicts with ${P.alg} ${String(alg)}, which needs a ${dictated.bits}-bit key`,
      );
    }
    if (dictated !== undefined && !dictated.exact && bits < dictated.bits) {
      throw invalid(
        'size',
        message`${P.size} ${bits} is too small for ${P.alg} ${String(alg)}: it needs at least ${dictated.bits} bits (RFC 7518 §3.2)`,
      );
    }
    if (alg === 'dir' && !DIR_SIZES.includes(bits)) {
      throw invalid(
        'size',
        message`${P.size} ${bits} is not a content-encryption key size for ${P.alg} dir: use ${oneOf(DIR_SIZES.map(String))}`,
      );
    }
  }
  const min = insecure ? limits.insecureMin : limits.min;
  if (bits < min) {
    throw invalid(
      'size',
      message`${P.size} ${bits} is too small for ${P.kty} ${kty}: the minimum is ${min} bits`,
      insecure ? undefined : message`sizes down to ${limits.insecureMin} bits need ${param('insecure')}`,
    );
  }
  if (bits > limits.max)
    throw invalid(
      'size',
      message`${P.size} ${bits} is too large for ${P.kty} ${kty}: the maximum is ${limits.max} bits`,
    );
  return bits;
}

/**
 * Validates key parameters and fills in every default, as `step crypto jwk create` does.
 * @throws KeymintError ERR_PARAM_INVALID naming the parameter and what it accepts
 * @example resolveKeySpec({ kty: 'RSA' }) // { kty: 'RSA', size: 2048, use: 'sig', alg: 'RS256' }
 * @see https://www.rfc-editor.org/rfc/rfc7518#section-3.1
 */
export function resolveKeySpec(input: KeyParams | KeyParamsInput): KeySpec {
  const kty = input.kty ?? 'EC';
  if (!isOneOf(kty, KEY_TYPES))
    throw invalid('kty', message`${P.kty} "${kty}" is not a key type: use ${oneOf(KEY_TYPES)}`);
  const use = input.use ?? 'sig';
  if (use === '') throw invalid('use', message`${P.use} must not be empty: use sig or enc`);
  if (input.alg === '') throw invalid('alg', message`${P.alg} must not be empty`);
  if (input.kid !== undefined && input.kid.length === 0) throw invalid('kid', message`${P.kid} must not be empty`);
  const crv = resolveCurve(kty, input.crv);
  // size before alg: "--size with EC" is the more basic mistake and is reported first.
  if ((kty === 'EC' || kty === 'OKP') && input.size !== undefined) resolveSize(kty, input.size, undefined, false);
  let alg = resolveAlg(kty, crv, use, input.alg, input.subtle ?? false);
  let defaulted = false;
  if (kty === 'oct' && input.alg === undefined && input.size !== undefined && (use === 'sig' || use === 'enc')) {
    // A size and no alg: the alg that fits the size, not a default that conflicts with it.
    const fitting = octAlgForSize(use, parseSize(input.size));
    defaulted = fitting === undefined;
    alg = fitting ?? alg;
  }
  const size = resolveSize(kty, input.size, alg, input.insecure ?? false, defaulted ? (use as KeyUse) : undefined);
  const spec: KeySpec = { kty, use };
  if (crv !== undefined) spec.crv = crv;
  if (size !== undefined) spec.size = size;
  if (alg !== undefined) spec.alg = alg;
  if (input.kid !== undefined) spec.kid = input.kid;
  return spec;
}

/**
 * Fails unless `alg` is one a key of this type and curve may be used with for `use`.
 * @throws KeymintError ERR_ALG_NOT_SUPPORTED naming the algorithms that fit
 * @example assertAlgorithmFits({ kty: 'EC', crv: 'P-256' }, 'ES384') // throws: use ES256
 */
export function assertAlgorithmFits(key: { kty: string; crv?: unknown }, alg: string, use: KeyUse = 'sig'): void {
  const kty = key.kty;
  const crv = typeof key.crv === 'string' && isCurve(key.crv) ? key.crv : undefined;
  const accepted = isOneOf(kty, KEY_TYPES) ? algorithmsFor(kty, crv, use) : [];
  if (isOneOf(alg, accepted)) return;
  const what = crv === undefined ? kty : `${kty} ${crv}`;
  throw new KeymintError(
    ErrorCode.ALG_NOT_SUPPORTED,
    accepted.length === 0
      ? `a ${what} key cannot be used for ${use === 'sig' ? 'signing' : 'encryption'}`
      : `${alg} does not fit a ${what} key: use ${oneOf(accepted)}`,
  );
}
