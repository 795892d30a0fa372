import { describe, expect, it } from 'vitest';
import { KEY_REFERENCE_TYPE, parseKeyDocument, serializeReference } from '../src/key-document.js';

const PUB = { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid: 'k' };

describe('parseKeyDocument', () => {
  it('recognises every form a key file takes', () => {
    expect(parseKeyDocument(JSON.stringify(PUB), 'f').kind).toBe('jwk');
    expect(parseKeyDocument(JSON.stringify({ keys: [PUB], extra: 1 }), 'f')).toEqual({
      kind: 'jwks',
      set: { keys: [PUB], extra: 1 },
    });
    expect(parseKeyDocument('eyJhbGciOiJQQkVTMi1IUzI1NitBMTI4S1cifQ.AA.AA.AA.AA', 'f').kind).toBe('jwe');
    expect(parseKeyDocument('{"protected":"e30","ciphertext":"AA"}', 'f').kind).toBe('jwe');
    const ref = serializeReference({ backend: 'pkcs11', location: { uri: 'pkcs11:token=t;object=o' } }, PUB);
    expect(parseKeyDocument(ref, 'f')).toEqual({
      kind: 'reference',
      reference: { backend: 'pkcs11', location: { uri: 'pkcs11:token=t;object=o' } },
      jwk: PUB,
    });
    expect(JSON.parse(ref).type).toBe(KEY_REFERENCE_TYPE);
  });

  it.each([
    ['empty', ''],
    ['not JSON', 'hello'],
    ['an array', '[1]'],
    ['an object that is no key', '{"a":1}'],
    ['a set with a non-key', '{"keys":[{"a":1}]}'],
    ['a reference of an unknown version', JSON.stringify({ type: KEY_REFERENCE_TYPE, version: 2 })],
    ['a reference without location', JSON.stringify({ type: KEY_REFERENCE_TYPE, version: 1, backend: 'x', jwk: PUB })],
  ])('refuses %s with a one-line ERR_INPUT_INVALID naming the source', (_name, text) => {
    expect(() => parseKeyDocument(text, 'key.json')).toThrow(
      expect.objectContaining({ code: 'ERR_INPUT_INVALID', message: expect.stringContaining('key.json') }),
    );
  });
});
