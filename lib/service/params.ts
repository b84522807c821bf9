/**
 * Schemas for service params (valibot). Query strings carry every value as text (`id: "1"`), so integers
 * accept a number or the text of one; `price: "abc"` is refused, as is a number MySQL's `int` cannot hold.
 */
import * as v from "valibot";

const INT_MIN = -2147483648;
const INT_MAX = 2147483647;

// The schemas' types, written out: a published package's API must not make its users' compiler infer them.
type IntegerText = v.SchemaWithPipe<
  readonly [v.StringSchema<undefined>, v.TrimAction, v.RegexAction<string, undefined>, v.TransformAction<any, number>]
>;
type IntegerSchema = v.SchemaWithPipe<
  readonly [
    v.UnionSchema<[v.NumberSchema<undefined>, IntegerText], undefined>,
    v.IntegerAction<number, undefined>,
    v.MinValueAction<number, typeof INT_MIN, undefined>,
    v.MaxValueAction<number, typeof INT_MAX, undefined>,
  ]
>;
type TextSchema = v.SchemaWithPipe<readonly [v.StringSchema<undefined>, v.MaxLengthAction<string, number, undefined>]>;
type IntegerListText = v.SchemaWithPipe<
  readonly [
    v.StringSchema<undefined>,
    v.MaxLengthAction<string, number, undefined>,
    v.RegexAction<string, undefined>,
    v.TransformAction<string, number[]>,
    v.CheckAction<number[], undefined>,
  ]
>;
type IntegerListSchema = v.SchemaWithPipe<
  readonly [
    v.UnionSchema<[v.ArraySchema<IntegerSchema, undefined>, IntegerListText], undefined>,
    v.MinLengthAction<number[], 1, undefined>,
    v.MaxLengthAction<number[], number, undefined>,
  ]
>;

export function integer(): IntegerSchema {
  return v.pipe(
    v.union([v.number(), v.pipe(v.string(), v.trim(), v.regex(/^[-+]?\d{1,10}$/), v.transform(Number))]),
    v.integer(),
    v.minValue(INT_MIN),
    v.maxValue(INT_MAX),
  );
}

/** A string column of at most `maxLength` characters (varchar(N) counts characters, not bytes). */
export function text(maxLength: number): TextSchema {
  return v.pipe(v.string(), v.maxLength(maxLength));
}

/** `text` columns hold 65,535 bytes; counting characters as up to 3 bytes keeps any value storable. */
export const LONG_TEXT_CHARS = 21_845;

/** Rows of one page of a list, at most (`limit`). */
export const MAX_PAGE_ROWS = 1000;

/**
 * Optional paging of a list that can grow: `limit` rows (1–1000) whose id is above `after`. Without them a
 * list is whole, as the book answers it (docs/protocol.md §5).
 */
export const page: {
  limit: v.OptionalSchema<
    v.SchemaWithPipe<
      readonly [
        IntegerSchema,
        v.MinValueAction<number, 1, undefined>,
        v.MaxValueAction<number, typeof MAX_PAGE_ROWS, undefined>,
      ]
    >,
    undefined
  >;
  after: v.OptionalSchema<IntegerSchema, undefined>;
} = {
  limit: v.optional(v.pipe(integer(), v.minValue(1), v.maxValue(MAX_PAGE_ROWS))),
  after: v.optional(integer()),
};

/** What a client whose list was too large to send should do instead. */
export const PAGING_ADVICE = "use paging (limit, after)";

/**
 * A list of 1 to `maxItems` integers: an array over the mesh, or `1,2,3` in a query string, where every value
 * is text.
 */
export function integerList(maxItems: number): IntegerListSchema {
  const listed = v.pipe(
    v.string(),
    v.maxLength(maxItems * 12),
    v.regex(/^\s*[-+]?\d{1,10}\s*(,\s*[-+]?\d{1,10}\s*)*$/),
    v.transform((list) => list.split(",").map(Number)),
    v.check((numbers) => numbers.every((number) => number >= INT_MIN && number <= INT_MAX)),
  );
  return v.pipe(v.union([v.array(integer()), listed]), v.minLength(1), v.maxLength(maxItems));
}
