/** Puts the fixture's goods in place through a contender's HTTP API, and checks what `GET /goods` answers. */
import { GOODS_LIST, NEW_GOODS } from "./fixture.ts";

const REQUEST_TIMEOUT_MS = 10_000;

async function call(url: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { ...init, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { status: response.status, text: await response.text() };
}

export async function postGoods(baseUrl: string): Promise<void> {
  for (const goods of NEW_GOODS) {
    const { status, text } = await call(`${baseUrl}/goods`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(goods),
    });
    if (status !== 200 || JSON.parse(text).errorcode !== 0) {
      throw new Error(`POST ${baseUrl}/goods answered ${status} ${text}`);
    }
  }
}

/** Fails unless `GET /goods` answers 200, errorcode 0 and the fixture's list; returns the body's size in bytes. */
export async function checkList(baseUrl: string): Promise<number> {
  const { status, text } = await call(`${baseUrl}/goods`);
  const body = JSON.parse(text);
  if (status !== 200 || body.errorcode !== 0 || JSON.stringify(body.results) !== JSON.stringify(GOODS_LIST)) {
    throw new Error(`GET ${baseUrl}/goods answered ${status} ${text.slice(0, 300)}`);
  }
  return new TextEncoder().encode(text).length;
}
