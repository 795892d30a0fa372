/**
 * An RFC 7512 PKCS#11 URI, parsed. Text attributes are decoded to strings (UTF-8); `id` is bytes.
 * Attributes keymint does not know (vendor attributes) are kept in order so that a URI survives a
 * parse and format round trip.
 * @see https://www.rfc-editor.org/rfc/rfc7512#section-2.3
 */
export interface Pkcs11Uri {
  /** CK_TOKEN_INFO.label */
  token?: string;
  /** CK_TOKEN_INFO.manufacturerID */
  manufacturer?: string;
  /** CK_TOKEN_INFO.serialNumber */
  serial?: string;
  /** CK_TOKEN_INFO.model */
  model?: string;
  /** CK_INFO.manufacturerID of the module */
  libraryManufacturer?: string;
  /** CK_INFO.libraryDescription of the module */
  libraryDescription?: string;
  /** CK_INFO.libraryVersion, "major" or "major.minor" */
  libraryVersion?: string;
  /** CKA_LABEL of the object */
  object?: string;
  /** The object class */
  type?: Pkcs11ObjectType;
  /** CKA_ID of the object: raw bytes */
  id?: Uint8Array;
  /** CK_SLOT_INFO.manufacturerID */
  slotManufacturer?: string;
  /** CK_SLOT_INFO.slotDescription */
  slotDescription?: string;
  /** CK_SLOT_ID, in decimal (a string, so that 64-bit ids stay exact) */
  slotId?: string;
  /** Where the PIN is: a file (`file:/path` or a path). */
  pinSource?: string;
  /** The PIN itself. Leaks into process lists and shell history: accepted, with a warning. */
  pinValue?: string;
  /** The module by name (`softhsm2`), looked up in the usual directories. */
  moduleName?: string;
  /** The module by path. */
  modulePath?: string;
  /** Vendor attributes of the path, in order. */
  vendorPath?: ReadonlyArray<readonly [string, string]>;
  /** Vendor attributes of the query, in order. */
  vendorQuery?: ReadonlyArray<readonly [string, string]>;
}

/** The values of the `type` attribute (RFC 7512 §2.3). */
export const PKCS11_OBJECT_TYPES = ['public', 'private', 'cert', 'secret-key', 'data'] as const;
export type Pkcs11ObjectType = (typeof PKCS11_OBJECT_TYPES)[number];

/** Path attributes in the order keymint writes them, with their field names. */
export const PATH_ATTRIBUTES = [
  ['token', 'token'],
  ['manufacturer', 'manufacturer'],
  ['serial', 'serial'],
  ['model', 'model'],
  ['library-manufacturer', 'libraryManufacturer'],
  ['library-description', 'libraryDescription'],
  ['library-version', 'libraryVersion'],
  ['slot-manufacturer', 'slotManufacturer'],
  ['slot-description', 'slotDescription'],
  ['slot-id', 'slotId'],
  ['object', 'object'],
  ['type', 'type'],
  ['id', 'id'],
] as const satisfies ReadonlyArray<readonly [string, keyof Pkcs11Uri]>;

/** Query attributes in the order keymint writes them. */
export const QUERY_ATTRIBUTES = [
  ['module-name', 'moduleName'],
  ['module-path', 'modulePath'],
  ['pin-source', 'pinSource'],
  ['pin-value', 'pinValue'],
] as const satisfies ReadonlyArray<readonly [string, keyof Pkcs11Uri]>;
