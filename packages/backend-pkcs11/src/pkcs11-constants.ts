/**
 * The PKCS#11 numbers keymint uses, written out rather than taken from the native binding: the
 * binding is loaded only when a token is used, and it has no names for the PKCS#11 3.0 EdDSA
 * mechanisms at all.
 * @see https://docs.oasis-open.org/pkcs11/pkcs11-base/v3.0/pkcs11-base-v3.0.html
 * @see https://docs.oasis-open.org/pkcs11/pkcs11-curr/v3.0/pkcs11-curr-v3.0.html
 */

/** CKO_*: object classes. */
export const CKO = {
  DATA: 0x0,
  CERTIFICATE: 0x1,
  PUBLIC_KEY: 0x2,
  PRIVATE_KEY: 0x3,
  SECRET_KEY: 0x4,
} as const;

/** CKA_*: the attributes keymint reads by number (see look-up-key.ts). */
export const CKA = {
  CLASS: 0x0,
  LABEL: 0x3,
  KEY_TYPE: 0x100,
  ID: 0x102,
  MODULUS: 0x120,
  EC_PARAMS: 0x180,
} as const;

/** CKK_*: key types. CKK_EC_EDWARDS is PKCS#11 3.0. */
export const CKK = {
  RSA: 0x0,
  EC: 0x3,
  GENERIC_SECRET: 0x10,
  AES: 0x1f,
  EC_EDWARDS: 0x40,
} as const;

/** CKM_*: mechanisms. CKM_EC_EDWARDS_KEY_PAIR_GEN and CKM_EDDSA are PKCS#11 3.0. */
export const CKM = {
  RSA_PKCS_KEY_PAIR_GEN: 0x0,
  RSA_PKCS: 0x1,
  RSA_X_509: 0x3,
  RSA_PKCS_OAEP: 0x9,
  RSA_PKCS_PSS: 0xd,
  SHA256_RSA_PKCS: 0x40,
  SHA384_RSA_PKCS: 0x41,
  SHA512_RSA_PKCS: 0x42,
  SHA256_RSA_PKCS_PSS: 0x43,
  SHA384_RSA_PKCS_PSS: 0x44,
  SHA512_RSA_PKCS_PSS: 0x45,
  SHA_1: 0x220,
  SHA256: 0x250,
  SHA256_HMAC: 0x251,
  SHA384: 0x260,
  SHA384_HMAC: 0x261,
  SHA512: 0x270,
  SHA512_HMAC: 0x271,
  GENERIC_SECRET_KEY_GEN: 0x350,
  EC_KEY_PAIR_GEN: 0x1040,
  ECDSA: 0x1041,
  ECDH1_DERIVE: 0x1050,
  EC_EDWARDS_KEY_PAIR_GEN: 0x1055,
  EDDSA: 0x1057,
  AES_KEY_GEN: 0x1080,
  AES_GCM: 0x1087,
  AES_KEY_WRAP: 0x2109,
} as const;

/** CKG_*: mask generation functions for RSA-PSS and RSA-OAEP. */
export const CKG = {
  MGF1_SHA1: 0x1,
  MGF1_SHA256: 0x2,
  MGF1_SHA384: 0x3,
  MGF1_SHA512: 0x4,
} as const;

/** CKF_* bits of CK_MECHANISM_INFO.flags. */
export const CKF_MECHANISM = {
  ENCRYPT: 0x100,
  DECRYPT: 0x200,
  SIGN: 0x800,
  GENERATE: 0x8000,
  GENERATE_KEY_PAIR: 0x10000,
  WRAP: 0x20000,
  UNWRAP: 0x40000,
  DERIVE: 0x80000,
} as const;

/** CKF_* bits of CK_TOKEN_INFO.flags. */
export const CKF_TOKEN = {
  WRITE_PROTECTED: 0x2,
  LOGIN_REQUIRED: 0x4,
  USER_PIN_INITIALIZED: 0x8,
  PROTECTED_AUTHENTICATION_PATH: 0x100,
  TOKEN_INITIALIZED: 0x400,
  USER_PIN_COUNT_LOW: 0x10000,
  USER_PIN_FINAL_TRY: 0x20000,
  USER_PIN_LOCKED: 0x40000,
} as const;

/** CKF_* bits of C_OpenSession. */
export const CKF_SESSION = {
  RW_SESSION: 0x2,
  SERIAL_SESSION: 0x4,
} as const;

/** CKA_VALUE: the value of a secret key (read from the session key that ECDH derives). */
export const CKA_VALUE = 0x11;

/** CKU_USER: the normal user of C_Login. */
export const CKU_USER = 1;

/** The CKR_* return values keymint tells apart. */
export const CKR = {
  SLOT_ID_INVALID: 0x3,
  GENERAL_ERROR: 0x5,
  ARGUMENTS_BAD: 0x7,
  ATTRIBUTE_VALUE_INVALID: 0x13,
  DEVICE_ERROR: 0x30,
  DEVICE_MEMORY: 0x31,
  DEVICE_REMOVED: 0x32,
  KEY_HANDLE_INVALID: 0x60,
  KEY_SIZE_RANGE: 0x62,
  KEY_TYPE_INCONSISTENT: 0x63,
  KEY_FUNCTION_NOT_PERMITTED: 0x68,
  MECHANISM_INVALID: 0x70,
  MECHANISM_PARAM_INVALID: 0x71,
  OBJECT_HANDLE_INVALID: 0x82,
  PIN_INCORRECT: 0xa0,
  PIN_INVALID: 0xa1,
  PIN_LEN_RANGE: 0xa2,
  PIN_EXPIRED: 0xa3,
  PIN_LOCKED: 0xa4,
  SESSION_CLOSED: 0xb0,
  SESSION_COUNT: 0xb1,
  SESSION_HANDLE_INVALID: 0xb3,
  SESSION_READ_ONLY: 0xb5,
  TEMPLATE_INCONSISTENT: 0xd1,
  TOKEN_NOT_PRESENT: 0xe0,
  TOKEN_NOT_RECOGNIZED: 0xe1,
  TOKEN_WRITE_PROTECTED: 0xe2,
  USER_ALREADY_LOGGED_IN: 0x100,
  USER_NOT_LOGGED_IN: 0x101,
  USER_PIN_NOT_INITIALIZED: 0x102,
  DOMAIN_PARAMS_INVALID: 0x130,
  CURVE_NOT_SUPPORTED: 0x140,
  CRYPTOKI_NOT_INITIALIZED: 0x190,
  CRYPTOKI_ALREADY_INITIALIZED: 0x191,
} as const;
