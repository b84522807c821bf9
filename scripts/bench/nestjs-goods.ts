/**
 * NestJS's side of the comparison, the service: a NestJS microservice on its TCP transport whose controller answers
 * the message patterns `{ cmd: "list" }` and `{ cmd: "add" }` with `@MessagePattern`, keeping goods in memory and
 * answering in the book's shapes, as Moleculer's goods does. Listens on a free port of 127.0.0.1 and prints a JSON
 * `listen` line with it.
 */
import "reflect-metadata"; // NestJS reads its metadata through it (its packages also load it themselves)

import { Controller, Module } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { MessagePattern, type MicroserviceOptions, Transport } from "@nestjs/microservices";
import { createLogger } from "../../lib/log.ts";
import type { NewGoods } from "./fixture.ts";
import { decorateMethod } from "./nestjs-decorate.ts";

class GoodsController {
  readonly #rows = new Map<number, NewGoods & { id: number }>();
  #nextKey = 0;

  list() {
    const key = this.#nextKey++;
    if (this.#rows.size === 0) return { key, errorcode: 1, errormessage: "no data" };
    return {
      key,
      errorcode: 0,
      errormessage: "success",
      results: [...this.#rows.values()].map((row) => ({ ...row })),
    };
  }

  add({ name, category, price, description }: NewGoods) {
    const id = this.#rows.size + 1;
    this.#rows.set(id, { id, name, category, price, description });
    return { key: this.#nextKey++, errorcode: 0, errormessage: "success" };
  }
}
Controller()(GoodsController);
decorateMethod(GoodsController, "list", MessagePattern({ cmd: "list" }));
decorateMethod(GoodsController, "add", MessagePattern({ cmd: "add" }));

class GoodsModule {}
Module({ controllers: [GoodsController] })(GoodsModule);

const app = await NestFactory.createMicroservice<MicroserviceOptions>(GoodsModule, {
  transport: Transport.TCP,
  options: { host: "127.0.0.1", port: 0 },
  // Neither side logs per request, as with Moleculer's `warn`.
  logger: ["error", "warn"],
});
await app.listen();
const { address, port } = app.unwrap<{ address(): { address: string; port: number } }>().address();
createLogger({ name: "nestjs-goods", format: "json" }).info("listen", { address, port });
