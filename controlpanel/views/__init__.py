"""HTML views, one module per area; ``urls.py`` routes to them."""
