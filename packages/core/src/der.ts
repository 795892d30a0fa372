import { ErrorCode, KeymintError } from './errors.js';

/**
 * A minimal DER reader: enough to walk a certificate to its KeyUsage extension, check the outer
 * shape of a PEM body, and unwrap a PKCS#11 CKA_EC_POINT. It never copies: every element is a
 * view into the caller's bytes. Lengths are bounds-checked against the enclosing element, so
 * malformed input ends in ERR_INPUT_INVALID, never in an out-of-range read or a loop.
 * @see https://www.itu.int/rec/T-REC-X.690 (X.690 §8.1 identifier and length octets)
 */

/** Identifier octets keymint reads (universal class; SEQUENCE and SET with the constructed bit). */
export const DerTag = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** One tag-length-value element. Offsets index the `bytes` it was read from. */
export interface DerElement {
  /** The identifier octet, class and constructed bit included (0x30 for SEQUENCE, 0xa3 for [3]). */
  tag: number;
  /** True when the constructed bit (0x20) is set: the content is a run of elements. */
  constructed: boolean;
  /** The buffer the element was read from. */
  bytes: Uint8Array;
  /** Offset of the identifier octet. */
  start: number;
  /** Offset of the first content octet. */
  contentStart: number;
  /** Offset just past the last content octet. */
  end: number;
  /** The content octets: a view into `bytes`, not a copy. */
  content: Uint8Array;
}

function malformed(message: string): KeymintError {
  return new KeymintError(ErrorCode.INPUT_INVALID, `malformed DER: ${message}`);
}

/**
 * Reads the element that starts at `offset`; it must end by `limit`.
 * @throws KeymintError ERR_INPUT_INVALID when the header or length runs past `limit`, the length
 *   is indefinite (BER, not DER) or longer than 4 octets, or the tag uses the high-tag-number form
 * @example readDer(Uint8Array.of(0x04, 0x81, 0x01, 0xff)) // { tag: 4, contentStart: 3, end: 4, ... }
 * @see https://www.itu.int/rec/T-REC-X.690 §8.1.2, §8.1.3, §10.1
 */
export function readDer(bytes: Uint8Array, offset = 0, limit = bytes.length): DerElement {
  if (offset < 0 || limit > bytes.length || offset >= limit) throw malformed(`no element at offset ${offset}`);
  const tag = bytes[offset] as number;
  // No structure keymint reads uses tag numbers above 30; refusing them keeps the header one octet.
  if ((tag & 0x1f) === 0x1f) throw malformed(`high-tag-number form at offset ${offset} is not supported`);
  if (offset + 1 >= limit) throw malformed(`element at offset ${offset} has no length`);
  const first = bytes[offset + 1] as number;
  let length: number;
  let contentStart: number;
  if (first < 0x80) {
    length = first;
    contentStart = offset + 2;
  } else {
    const count = first & 0x7f;
    // 0x80 is BER's indefinite length; DER forbids it. More than 4 octets cannot fit any real key.
    if (count === 0) throw malformed(`indefinite length at offset ${offset}`);
    if (count > 4) throw malformed(`length of ${count} octets at offset ${offset}`);
    if (offset + 2 + count > limit) throw malformed(`length at offset ${offset} runs past the end`);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + (bytes[offset + 2 + i] as number);
    contentStart = offset + 2 + count;
  }
  const end = contentStart + length;
  if (end > limit)
    throw malformed(`element at offset ${offset} claims ${length} octets, only ${limit - contentStart} remain`);
  return {
    tag,
    constructed: (tag & 0x20) !== 0,
    bytes,
    start: offset,
    contentStart,
    end,
    content: bytes.subarray(contentStart, end),
  };
}

/**
 * Reads `bytes` as exactly one element: trailing octets are an error, which is what catches a
 * truncated or padded PEM body.
 * @throws KeymintError ERR_INPUT_INVALID
 * @example parseDer(Buffer.from('0500', 'hex')).tag // 0x05 (NULL)
 */
export function parseDer(bytes: Uint8Array): DerElement {
  const element = readDer(bytes, 0, bytes.length);
  if (element.end !== bytes.length) throw malformed(`${bytes.length - element.end} octets after the element`);
  return element;
}

/**
 * The elements inside a constructed element (SEQUENCE, SET, [n] constructed), in order. They
 * must fill its content exactly.
 * @throws KeymintError ERR_INPUT_INVALID when `element` is primitive or a child is malformed
 * @example derChildren(parseDer(Buffer.from('3006020101020102', 'hex'))).length // 2
 */
export function derChildren(element: DerElement): DerElement[] {
  if (!element.constructed)
    throw malformed(`element 0x${hex(element.tag)} at offset ${element.start} is not constructed`);
  const children: DerElement[] = [];
  // Every element is at least two octets, so `offset` strictly grows and the loop ends.
  for (let offset = element.contentStart; offset < element.end; ) {
    const child = readDer(element.bytes, offset, element.end);
    children.push(child);
    offset = child.end;
  }
  return children;
}

/**
 * Checks the tag of an element, so that callers read "expect a SEQUENCE" rather than a comparison.
 * @throws KeymintError ERR_INPUT_INVALID naming `what` when the tag differs
 * @example expectTag(element, DerTag.SEQUENCE, 'tbsCertificate')
 */
export function expectTag(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined) throw malformed(`${what} is missing`);
  if (element.tag !== tag) throw malformed(`${what} has tag 0x${hex(element.tag)}, expected 0x${hex(tag)}`);
  return element;
}

/**
 * Decodes an OBJECT IDENTIFIER to dotted form. Arcs are read as bigint so that 2.25 UUID arcs
 * (128 bits) come out exact.
 * @throws KeymintError ERR_INPUT_INVALID when the element is not an OID, is empty, ends inside an
 *   arc or pads an arc with a leading 0x80
 * @example decodeOid(parseDer(Buffer.from('06032b6570', 'hex'))) // '1.3.101.112' (Ed25519)
 * @see https://www.itu.int/rec/T-REC-X.690 §8.19
 */
export function decodeOid(element: DerElement): string {
  expectTag(element, DerTag.OID, 'OBJECT IDENTIFIER');
  const content = element.content;
  if (content.length === 0) throw malformed(`empty OBJECT IDENTIFIER at offset ${element.start}`);
  const arcs: bigint[] = [];
  let value = 0n;
  let fresh = true;
  for (const byte of content) {
    if (fresh && byte === 0x80) throw malformed(`OBJECT IDENTIFIER at offset ${element.start} pads an arc`);
    value = (value << 7n) | BigInt(byte & 0x7f);
    fresh = (byte & 0x80) === 0;
    if (fresh) {
      arcs.push(value);
      value = 0n;
    }
  }
  if (!fresh) throw malformed(`OBJECT IDENTIFIER at offset ${element.start} ends inside an arc`);
  // The first subidentifier packs two arcs: 40 * first + second, with first at most 2.
  const head = arcs[0] as bigint;
  const [first, second] = head < 40n ? [0n, head] : head < 80n ? [1n, head - 40n] : [2n, head - 80n];
  return [first, second, ...arcs.slice(1)].join('.');
}

/**
 * Decodes an INTEGER (two's complement) exactly, whatever its size: counts read from a file are
 * compared as bigint, so that 2^1000 is not Infinity and 2^64 + 1 is not 2^64.
 * @throws KeymintError ERR_INPUT_INVALID when the element is not an INTEGER, is empty, or is not
 *   minimally encoded (a leading 0x00 or 0xff octet that only repeats the sign, X.690 §8.3.2)
 * @example decodeInteger(parseDer(Buffer.from('020300a000', 'hex'))) // 40960n
 * @see https://www.itu.int/rec/T-REC-X.690 §8.3
 */
export function decodeInteger(element: DerElement): bigint {
  expectTag(element, DerTag.INTEGER, 'INTEGER');
  const content = element.content;
  const first = content[0];
  if (first === undefined) throw malformed(`empty INTEGER at offset ${element.start}`);
  const second = content[1];
  if (second !== undefined && ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80))) {
    throw malformed(`INTEGER at offset ${element.start} is not minimally encoded`);
  }
  // A power-of-two radix makes this linear in the length, even for a megabyte-long INTEGER.
  const magnitude = BigInt(`0x${Buffer.from(content.buffer, content.byteOffset, content.length).toString('hex')}`);
  return first >= 0x80 ? magnitude - (1n << BigInt(content.length * 8)) : magnitude;
}

/**
 * The content of a DER OCTET STRING that makes up all of `bytes`. PKCS#11 stores CKA_EC_POINT
 * this way: `04 41 04||X||Y` for P-256, `04 81 85 04||X||Y` for P-521, `04 20 X` for Ed25519.
 * @throws KeymintError ERR_INPUT_INVALID when `bytes` is not exactly one OCTET STRING
 * @example unwrapOctetString(Buffer.from('0403010203', 'hex')) // Uint8Array [1, 2, 3]
 * @see https://www.rfc-editor.org/rfc/rfc5480#section-2.2 (the EC point inside)
 */
export function unwrapOctetString(bytes: Uint8Array): Uint8Array {
  return expectTag(parseDer(bytes), DerTag.OCTET_STRING, 'OCTET STRING').content;
}

/**
 * The bits of a BIT STRING, most significant first: bit n of a named-bit list (X.509 KeyUsage
 * bit 0 is digitalSignature) is `bits[n]`.
 * @throws KeymintError ERR_INPUT_INVALID when the element is not a BIT STRING or its count of
 *   unused bits is above 7 (or not 0 when it has no data)
 * @example decodeBitString(parseDer(Buffer.from('03020780', 'hex'))) // [true]
 * @see https://www.itu.int/rec/T-REC-X.690 §8.6
 */
export function decodeBitString(element: DerElement): boolean[] {
  expectTag(element, DerTag.BIT_STRING, 'BIT STRING');
  const unused = element.content[0];
  const data = element.content.subarray(1);
  if (unused === undefined || unused > 7 || (data.length === 0 && unused !== 0)) {
    throw malformed(`BIT STRING at offset ${element.start} has a bad unused-bits octet`);
  }
  const bits: boolean[] = [];
  for (let i = 0; i < data.length * 8 - unused; i++) bits.push((((data[i >> 3] as number) >> (7 - (i & 7))) & 1) === 1);
  return bits;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
