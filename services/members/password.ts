/**
 * Passwords are stored as a salted scrypt hash (node:crypto, the same on all three runtimes):
 * `scrypt$N$r$p$salt$hash`, base64 parts, about 100 characters — it fits `members.password varchar(256)`.
 *
 * A database made by the book's programs holds MySQL's old `PASSWORD()` form instead: `*` and 40 upper-case hex
 * digits of SHA1(SHA1(password)), unsalted and fast to guess. Such a member logs in with the right password, and
 * that login gives the salted hash to store in its place (checkPassword's `rehash`).
 */
import { createHash, randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

/**
 * The most a stored hash may ask of scrypt (128·N·r bytes, p passes): a value read from the database is not
 * trusted to set the cost (a forged `scrypt$1073741824$…` would take gigabytes). Ours take 16 MiB and one pass.
 */
const MAX_MEMORY = 64 * 1024 * 1024;
const MAX_P = 4;

function derive(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEY_BYTES, { N: n, r, p, maxmem: 256 * n * r }, (error, key) => {
      if (error) reject(error);
      else resolve(key);
    })
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, N, R, P);
  return `scrypt$${N}$${R}$${P}$${salt.toString("base64")}$${key.toString("base64")}`;
}

interface ScryptHash {
  n: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseScrypt(stored: string): ScryptHash | undefined {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return undefined;
  const [n, r, p] = parts.slice(1, 4).map((part) => /^[1-9][0-9]{0,7}$/.test(part) ? Number(part) : NaN);
  const [salt, key] = parts.slice(4);
  const powerOfTwo = n > 1 && (n & (n - 1)) === 0;
  if (!powerOfTwo || !(128 * n * r <= MAX_MEMORY) || !(p <= MAX_P)) return undefined;
  if (!BASE64.test(salt) || !BASE64.test(key)) return undefined;
  return { n, r, p, salt: Buffer.from(salt, "base64"), key: Buffer.from(key, "base64") };
}

/** MySQL's `PASSWORD()` (4.1 and later): `*` + HEX(SHA1(SHA1(password))), upper-case, 41 characters. */
const MYSQL_PASSWORD = /^\*[0-9A-F]{40}$/;

function mysqlPasswordDigest(password: string): Buffer {
  const once = createHash("sha1").update(password, "utf8").digest();
  return createHash("sha1").update(once).digest();
}

export interface PasswordCheck {
  valid: boolean;
  /** When the password is right but stored in an older form: the salted hash to store in its place. */
  rehash?: string;
}

/**
 * Whether `password` matches the stored value. Every kind of stored value costs one scrypt, so the time taken
 * tells nothing about the member (unknown, book-registered, or ours): an old `PASSWORD()` value is checked
 * while its replacement hash is computed, and a value that is neither form (empty, truncated, NULL, a forged
 * cost) is checked against nothing and never matches. Digests are compared in constant time.
 */
export async function checkPassword(password: string, stored: unknown): Promise<PasswordCheck> {
  const text = typeof stored === "string" ? stored : "";
  const ours = parseScrypt(text);
  if (ours) {
    const actual = await derive(password, ours.salt, ours.n, ours.r, ours.p);
    const valid = actual.length === ours.key.length && timingSafeEqual(actual, ours.key);
    const current = ours.n === N && ours.r === R && ours.p === P;
    return valid && !current ? { valid, rehash: await hashPassword(password) } : { valid };
  }
  const rehash = await hashPassword(password);
  if (!MYSQL_PASSWORD.test(text)) return { valid: false };
  const valid = timingSafeEqual(mysqlPasswordDigest(password), Buffer.from(text.slice(1), "hex"));
  return valid ? { valid, rehash } : { valid };
}

const decoyStarted = Date.now();

/** A hash to verify against when the user does not exist, so that a missing user costs the same time. */
export const DECOY_HASH = await hashPassword("decoy");

/** What one hash took here at start-up: the first estimate of hashing's cost, before any is measured under load. */
export const MEASURED_HASH_MS = Date.now() - decoyStarted;
