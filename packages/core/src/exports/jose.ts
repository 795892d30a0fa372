/** @keymint/core/jose: JWS and JWT signing with any backend's key, verification, JWE encryption and decryption with any backend's key, and password JWE of private keys. */
export {
  CLIENT_ASSERTION_LIFETIME,
  MAX_NUMERIC_DATE,
  REGISTERED_CLAIMS,
  clientAssertionClaims,
  formatNumericDate,
  jwtClaims,
  numericDate,
  parseDuration,
  signCompact,
  signJwt,
  signingAlgorithm,
  type ClientAssertionInput,
  type JwtClaimsInput,
  type SignOptions,
} from '../jws.js';
export {
  DEFAULT_LEEWAY,
  decodeCompactJws,
  verifyCompactJws,
  verifyToken,
  type DecodedJws,
  type VerifiedToken,
  type Verifier,
  type VerifyTokenOptions,
} from '../verify.js';
export { decryptJwk, encryptJwk, inspectJwe, type EncryptOptions } from '../jwe.js';
export { encrypt, type EncryptOptions as JweEncryptOptions, type EncryptedJwe } from '../jwe-encrypt.js';
export { decrypt, type DecryptOptions, type DecryptedJwe } from '../jwe-decrypt.js';
export { MAX_JWE_HEADER_LENGTH, MAX_JWE_LENGTH, readJwe, type ReadJwe } from '../jwe-read.js';
export { concatKdf } from '../concat-kdf.js';
