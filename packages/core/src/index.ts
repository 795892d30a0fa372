/**
 * @keymint/core: make keys, keep them where you decide, open them again. The light part: no JOSE
 * library is loaded until a key is encrypted or decrypted. Signing and verifying are in
 * `@keymint/core/jose`, PEM in `@keymint/core/pem`, JWK Sets in `@keymint/core/keysets`, safe
 * files in `@keymint/core/files`, the backend conformance suite in `@keymint/core/testing`.
 */
export {
  ErrorCode,
  KeymintError,
  isKeymintError,
  message,
  oneOf,
  param,
  type KeymintErrorOptions,
  type MessageParts,
  type ParamName,
} from './errors.js';
export {
  EC_CURVES,
  KEY_MANAGEMENT_ALGORITHMS,
  KEY_TYPES,
  OKP_CURVES,
  SIGNATURE_ALGORITHMS,
  SIZE_LIMITS,
  algorithmsFor,
  assertAlgorithmFits,
  curveBytes,
  isCurve,
  resolveKeySpec,
  signatureAlgorithmOfCurve,
  useOfAlgorithm,
  type Curve,
  type EcCurve,
  type KeyAlgorithm,
  type KeyManagementAlgorithm,
  type KeyParams,
  type KeyParamsInput,
  type KeySpec,
  type KeyUse,
  type Kty,
  type OkpCurve,
  type SignatureAlgorithm,
} from './params.js';
export { ECDSA_COMPONENT_BYTES, signatureScheme, type HashName, type SignatureScheme } from './jwa.js';
export {
  checkJwk,
  describeJwk,
  isPrivateJwk,
  keySizeBits,
  orderJwk,
  toPublicJwk,
  type CheckJwkOptions,
  type Jwk,
  type JwkSet,
} from './jwk.js';
export { THUMBPRINT_HASHES, thumbprint, thumbprintUri, type ThumbprintHash } from './thumbprint.js';
export { DEFAULT_PBES2_COUNT, MAX_PBES2_COUNT, MIN_PBES2_COUNT, checkPassword, checkPbes2Count } from './password.js';
export * from './backend.js';
export {
  CONTENT_ENCRYPTION_ALGORITHMS,
  DEFAULT_CONTENT_ENCRYPTION,
  JWE_KEY_ALGORITHMS,
  assertKeyManagementFits,
  contentEncryption,
  encryptionAlgorithm,
  encryptionContent,
  keyManagementOf,
  type ContentEncryption,
  type KeyManagement,
  type KeyManagementFitOptions,
  type KeyManagementMode,
} from './jwe-algorithms.js';
export { aesGcmUnwrapKey, aesUnwrapKey, aesWrapKey } from './aes-key-wrap.js';
export { decodeOaepBlock, decodePkcs1Block } from './rsa-padding.js';
export {
  createKey,
  executeKeyPlan,
  generatePlannedKey,
  keyFiles,
  planKey,
  saveKey,
  type CreatedKey,
  type ExecuteOptions,
  type ExecutedPlan,
  type ExistingKey,
  type KeyOutputs,
  type KeyPlan,
  type NewKey,
  type PlanOptions,
  type SaveOptions,
  type SavedFiles,
} from './create-key.js';
export {
  KEY_REFERENCE_TYPE,
  parseKeyDocument,
  serializeReference,
  type KeyDocument,
  type KeyReferenceDocument,
} from './key-document.js';
export {
  SOFTWARE_BACKEND,
  installedBackends,
  openKeyFile,
  openPrivateKey,
  publicOf,
  type BackendResolver,
  type OpenKeyFileOptions,
  type OpenKeyOptions,
  type OpenedKey,
} from './open-key.js';
