"""Development tools run from the checkout, not part of the product: ``protogen`` compiles
``protos/`` into ``federation/api/gen`` (``make protos``)."""
