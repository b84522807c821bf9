/**
 * Schemas for service params (valibot). Query strings carry every value as text (`id: "1"`), so integers
 * accept a number or the text of one; `price: "abc"` is refused, as is a number MySQL's `int` cannot hold.
 */
import * as v from "valibot";

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

export function integer() {
  return v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^[-+]?\d{1,10}$/), v.transform(Number))]),
    v.integer(),
    v.minValue(INT_MIN),
    v.maxValue(INT_MAX),
  );
}

/** A string column of at most `maxLength` characters (varchar(N) counts characters, not bytes). */
export function text(maxLength: number) {
  return v.pipe(v.string(), v.maxLength(maxLength));
}

/** `text` columns hold 65,535 bytes; counting characters as up to 3 bytes keeps any value storable. */
export const LONG_TEXT_CHARS = 21_845;
