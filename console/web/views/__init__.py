"""Console pages, one module per area; `console.web.urls` maps them."""
