"""Shipping models, every kind by one path: export, quantise, register, card.

* ``export``: one contract per kind (inputs, outputs, tolerance) and one ORT-vs-torch verify loop;
  ``onnx_io``: torch to a checked, stamped, single ONNX file, and training-side sessions.
* ``quantize``: the QDQ int8 recipe and its accuracy gate; ``saturation``: the non-VNNI proof
  and emulation; ``int8``: ship or withdraw a zoo model's int8 file under the current gate.
* ``register``: a run of any kind (or the smoke checkpoints) to registry rows; ``registry``:
  reading and validating a zoo's registry and :func:`~vmaf_train.ship.registry.ship`, the one
  writer (staged, checked, one atomic ``registry.json`` write).
* ``cards``: every model card and the generated doc blocks (``card_parts``: what all cards share;
  ``cards_fr`` / ``cards_pixels``: the per-kind sections).
* ``smoke``: the contract-exercising checkpoints; ``zoo``: train the whole shipped zoo.
"""
