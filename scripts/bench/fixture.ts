/**
 * What every contender serves: 10 goods, posted first, then listed by `GET /goods` in the book's answer shape.
 * The answer is about 1 KB, which is also the packet the codec benchmark encodes and decodes.
 */
const GOODS_COUNT = 10;

export interface NewGoods {
  name: string;
  category: string;
  price: number;
  description: string;
}

export const NEW_GOODS: NewGoods[] = Array.from({ length: GOODS_COUNT }, (_, index) => ({
  name: `bench goods ${index + 1}`,
  category: "benchmark",
  price: 1000 + index,
  description: "posted by the benchmark",
}));

/** The list as a store returns it: ids from 1, fields in the order the services write them. */
export const GOODS_LIST = NEW_GOODS.map((goods, index) => ({ id: index + 1, ...goods }));

/** The answer of goods to `GET/goods`, as the gateway passes it through. */
export function goodsAnswer(key: number): { key: number; errorcode: 0; errormessage: string; results: unknown[] } {
  return { key, errorcode: 0, errormessage: "success", results: GOODS_LIST };
}
