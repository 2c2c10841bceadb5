"""``invprob-plugin-examples``: example recipes with their images, as package data (``demo/``:
the README's demo, which ``recipes/demo.yaml`` links to), and ``invprob example NAME``, which
copies one out (:mod:`.plugin`)."""
