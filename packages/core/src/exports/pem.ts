/** @keymint/core/pem: keys from PEM, OpenSSH and certificates (with bounded key derivation), and keys to PEM. */
export { importPem, type ImportedKey, type PemImportOptions } from '../pem.js';
export { PEM_PBKDF2_COUNT, exportPem, type ExportedPem, type PemExportOptions } from '../pem-export.js';
export { unwrapOctetString } from '../der.js';
