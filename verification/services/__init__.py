"""The portal's use cases, one module per concern. The web layer, the back
office and the management commands call these; these call the methods,
the vendors' clients, media and the models, and raise the typed errors of
`verification.domain.errors`. Background work lives beside the service it
runs: each module's tasks are thin (ids in, one service call)."""
