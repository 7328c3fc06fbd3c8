"""PIE's shared package, in layers (tests/unit/test_layer_order.py): the model (``domain``, the
handler kinds' declarations in ``kinds``), data access (``data``), the services (``services``), the
dispatcher (``dispatch``), the wiring (``runtime``, ``settings``) and the HTTP edge (``http``,
``routes``)."""
