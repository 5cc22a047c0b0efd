"""The central records server: it alone decides who may see what, and traces it."""
