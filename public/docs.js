// The API reference (GET /docs): Swagger UI (public/vendor) over this origin's /openapi.json.
// "Try it out" sends requests from this page to this origin with the credentials typed into it.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#reference",
    deepLinking: true,
    docExpansion: "list",
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    validatorUrl: null,
  });
});
