/**
 * Passwords are stored as a salted scrypt hash (node:crypto, the same on all three runtimes):
 * `scrypt$N$r$p$salt$hash`, base64 parts, about 100 characters — it fits `members.password varchar(256)`.
 */
import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 16384;
const R = 8;
const P = 1;
const KEY_BYTES = 32;

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

/** False for a wrong password and for a stored value that is not one of our hashes. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, key] = stored.split("$");
  if (scheme !== "scrypt" || key === undefined) return false;
  const expected = Buffer.from(key, "base64");
  const actual = await derive(password, Buffer.from(salt, "base64"), Number(n), Number(r), Number(p));
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

const decoyStarted = Date.now();

/** A hash to verify against when the user does not exist, so that a missing user costs the same time. */
export const DECOY_HASH = await hashPassword("decoy");

/** What one hash took here at start-up: the first estimate of hashing's cost, before any is measured under load. */
export const MEASURED_HASH_MS = Date.now() - decoyStarted;
