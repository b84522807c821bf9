/**
 * NestJS's side of the comparison, the gateway: an HTTP application on NestJS's default platform (Express) whose
 * controller forwards `GET /goods` and `POST /goods` to the goods microservice over NestJS's TCP transport, with a
 * `ClientProxy` registered through `ClientsModule` (`… nestjs-gateway.ts GOODS_PORT`). Connects to it, then listens
 * on a free port of 127.0.0.1 and prints a JSON `listen` line with it.
 */
import "reflect-metadata"; // NestJS reads its metadata through it (its packages also load it themselves)

import { Body, Controller, Get, HttpCode, Inject, Module, Post } from "@nestjs/common";
import { NestFactory } from "@nestjs/core";
import { type ClientProxy, ClientsModule, Transport } from "@nestjs/microservices";
import type { Observable } from "rxjs";
import { createLogger } from "../../lib/log.ts";
import { commandLineArguments } from "../../lib/runtime/mod.ts";
import type { NewGoods } from "./fixture.ts";
import { decorateMethod } from "./nestjs-decorate.ts";

const GOODS_SERVICE = "GOODS_SERVICE";
const goodsPort = Number(commandLineArguments()[0]);
if (!Number.isInteger(goodsPort) || goodsPort <= 0) throw new Error("usage: nestjs-gateway.ts GOODS_PORT");

/** What NestJS's documentation shows: the handler returns the client's Observable, and Nest answers its value. */
class GoodsController {
  constructor(private readonly goods: ClientProxy) {}

  list(): Observable<unknown> {
    return this.goods.send({ cmd: "list" }, {});
  }

  add(goods: NewGoods): Observable<unknown> {
    return this.goods.send({ cmd: "add" }, goods);
  }
}
Controller("goods")(GoodsController);
Inject(GOODS_SERVICE)(GoodsController, undefined, 0);
decorateMethod(GoodsController, "list", Get());
// 200 as the other contenders answer (NestJS answers a POST with 201 by default).
decorateMethod(GoodsController, "add", Post(), HttpCode(200));
Body()(GoodsController.prototype, "add", 0);

class GatewayModule {}
Module({
  imports: [
    ClientsModule.register([{
      name: GOODS_SERVICE,
      transport: Transport.TCP,
      options: { host: "127.0.0.1", port: goodsPort },
    }]),
  ],
  controllers: [GoodsController],
})(GatewayModule);

const app = await NestFactory.create(GatewayModule, { logger: ["error", "warn"] });
// The client connects on its first request unless asked: connected first, the gateway is ready when it says so.
await app.get<ClientProxy>(GOODS_SERVICE).connect();
await app.listen(0, "127.0.0.1");
const { address, port } = app.getHttpServer().address() as { address: string; port: number };
createLogger({ name: "nestjs-gateway", format: "json" }).info("listen", { address, port });
