/** The API reference's own routes, as OpenAPI routes. */
import { createRoute } from "@hono/zod-openapi";
import { z } from "zod";
import { htmlResponse, json, security } from "../openapi.ts";

export const docsPageRoute = createRoute({
  method: "get",
  path: "/docs",
  operationId: "apiReference",
  tags: ["Reference"],
  summary: "This reference, rendered",
  security: security.public,
  responses: { 200: htmlResponse("The API reference") },
});

export const openApiRoute = createRoute({
  method: "get",
  path: "/openapi.json",
  operationId: "getOpenApiDocument",
  tags: ["Reference"],
  summary: "This OpenAPI 3.1 document, generated from the routes",
  security: security.public,
  responses: { 200: json("The document", z.looseObject({ openapi: z.string() })) },
});
