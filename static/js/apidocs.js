// The docs page: Swagger UI (from npm, static/vendor) shows /api/openapi.json. "Try it out" calls the APIs with
// the signed-in session's cookie; POST and PATCH need the page's CSRF token, added here to every request.
(function () {
  const mount = document.getElementById("swagger-ui");
  if (!mount || typeof window.SwaggerUIBundle !== "function") return;
  const csrf = document.querySelector('meta[name="csrf-token"]');
  window.SwaggerUIBundle({
    url: mount.dataset.spec,
    domNode: mount,
    deepLinking: true,
    tryItOutEnabled: false,
    validatorUrl: null, // never send the document to an outside validator
    requestInterceptor: (req) => {
      if (csrf) req.headers["X-CSRFToken"] = csrf.content;
      return req;
    },
  });
})();
