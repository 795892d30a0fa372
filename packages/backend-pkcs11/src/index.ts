import { pkcs11Backend } from './pkcs11-backend.js';

export {
  pkcs11Backend,
  PKCS11_ENV,
  PIN_VALUE_WARNING,
  type Pkcs11Backend,
  type Pkcs11BackendOptions,
  type Pkcs11TokenRef,
} from './pkcs11-backend.js';
export { PKCS11_BACKEND_NAME } from './generate-key.js';
export { listTokens, type ListTokensOptions, type Pkcs11SlotInfo, type Pkcs11TokenListing } from './list-tokens.js';
export type { Pkcs11KeyInfo } from './list-keys.js';
export type { ModuleInfo } from './pkcs11-module.js';
export type { TokenDescription } from './describe-slots.js';
export { parsePkcs11Uri } from './parse-pkcs11-uri.js';
export { formatPkcs11Uri, type FormatOptions } from './format-pkcs11-uri.js';
export { PKCS11_OBJECT_TYPES, type Pkcs11ObjectType, type Pkcs11Uri } from './pkcs11-uri.js';
export { findModuleByName, installedModules } from './resolve-module-path.js';
export default pkcs11Backend;
