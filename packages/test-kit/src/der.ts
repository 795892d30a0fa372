/**
 * DER for tests: a writer to build hostile inputs from scratch, and a patcher that replaces one
 * element of a real file (openssl's, ssh-keygen's) at a path of child indexes. The walker here is
 * the tests' own, on purpose: inputs meant to break keymint's reader are not built with it.
 * @see https://www.itu.int/rec/T-REC-X.690 (§8.1 identifier and length octets)
 */

/** DER: tag, definite length (X.690 §8.1.3), content. Lengths up to 4 octets, as keymint reads. */
export function der(tag: number, ...content: Uint8Array[]): Buffer {
  const body = Buffer.concat(content);
  if (body.length < 0x80) return Buffer.concat([Buffer.of(tag, body.length), body]);
  const octets: number[] = [];
  for (let n = body.length; n > 0; n = Math.floor(n / 256)) octets.unshift(n % 256);
  return Buffer.concat([Buffer.of(tag, 0x80 | octets.length, ...octets), body]);
}

export const seq = (...content: Uint8Array[]): Buffer => der(0x30, ...content);
export const octets = (bytes: Uint8Array): Buffer => der(0x04, bytes);
export const derNull = (): Buffer => Buffer.of(0x05, 0x00);

/** The minimal two's complement encoding of any integer (X.690 §8.3), negatives and 2^1000 included. */
export function integer(value: bigint): Buffer {
  let bytes = 1;
  while (value < -(1n << BigInt(bytes * 8 - 1)) || value >= 1n << BigInt(bytes * 8 - 1)) bytes++;
  const unsigned = value < 0n ? (1n << BigInt(bytes * 8)) + value : value;
  return der(0x02, Buffer.from(unsigned.toString(16).padStart(bytes * 2, '0'), 'hex'));
}

export function oid(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(BigInt) as [bigint, bigint, ...bigint[]];
  const out: number[] = [];
  for (const arc of [first * 40n + second, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let n = arc >> 7n; n > 0n; n >>= 7n) groups.unshift(Number(n & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return der(0x06, Buffer.from(out));
}

/** Where one element of well-formed DER stands. */
interface Span {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

// Reads well-formed DER only (the files the tests patch come from openssl and ssh-keygen): a
// malformed input is a broken test, which the thrown error says.
function spanAt(bytes: Uint8Array, start: number): Span {
  const tag = bytes[start];
  const first = bytes[start + 1];
  if (tag === undefined || first === undefined) throw new Error(`no DER element at offset ${start}`);
  let length = first;
  let contentStart = start + 2;
  if (first >= 0x80) {
    length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (bytes[contentStart + i] as number);
    contentStart += first & 0x7f;
  }
  return { tag, start, contentStart, end: contentStart + length };
}

function childrenOf(bytes: Uint8Array, span: Span): Span[] {
  if ((span.tag & 0x20) === 0) throw new Error(`the element at offset ${span.start} is not constructed`);
  const children: Span[] = [];
  for (let offset = span.contentStart; offset < span.end; ) {
    const child = spanAt(bytes, offset);
    children.push(child);
    offset = child.end;
  }
  return children;
}

function spanOf(bytes: Uint8Array, path: readonly number[]): Span {
  let span = spanAt(bytes, 0);
  for (const index of path) {
    const child = childrenOf(bytes, span)[index];
    if (child === undefined) throw new Error(`no child ${index} at offset ${span.start}`);
    span = child;
  }
  return span;
}

/**
 * The encoding of the element at a path of child indexes: `elementAt(der, 0, 1)` is the second
 * child of the first child of the outer element.
 */
export function elementAt(bytes: Uint8Array, ...path: number[]): Buffer {
  const span = spanOf(bytes, path);
  return Buffer.from(bytes.subarray(span.start, span.end));
}

/**
 * `bytes` with the element at `path` replaced by `replacement`, every enclosing length
 * rewritten: how a test turns a real file's field into a hostile one.
 * @example replaceAt(pkcs8, [0, 1, 0, 1, 1], integer(2n ** 31n)) // PBKDF2 iterations of a PKCS#8 file
 */
export function replaceAt(bytes: Uint8Array, path: readonly number[], replacement: Uint8Array): Buffer {
  const target = spanOf(bytes, path);
  const rebuild = (span: Span): Buffer => {
    if (span.start === target.start && span.end === target.end) return Buffer.from(replacement);
    const encloses = span.start <= target.start && target.end <= span.end;
    if (encloses) return der(span.tag, ...childrenOf(bytes, span).map(rebuild));
    return Buffer.from(bytes.subarray(span.start, span.end));
  };
  return rebuild(spanAt(bytes, 0));
}

/** The DER inside a PEM text (every label and all white space removed). */
export function pemBody(text: string): Buffer {
  return Buffer.from(text.replace(/-----[^-]+-----/g, '').replace(/\s/g, ''), 'base64');
}

/** A PEM text around DER, in lines of `width` characters. */
export function toPem(label: string, bytes: Uint8Array, width = 64): string {
  const lines =
    Buffer.from(bytes)
      .toString('base64')
      .match(new RegExp(`.{1,${width}}`, 'g')) ?? [];
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\n');
}

/** The offset of the bcrypt_pbkdf rounds in the blob of an OpenSSH private key (PROTOCOL.key). */
export function opensshRoundsOffset(blob: Buffer): number {
  let offset = 'openssh-key-v1\0'.length;
  for (let i = 0; i < 2; i++) offset += 4 + blob.readUInt32BE(offset); // ciphername, kdfname
  offset += 4; // the length of kdfoptions
  return offset + 4 + blob.readUInt32BE(offset); // past the salt
}
