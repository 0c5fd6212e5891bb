"""Shipping models, every kind by one path: export, quantise, register, card.

``export`` (one contract per kind, one ORT-vs-torch verify loop), ``quantize`` (the QDQ int8
recipe and its gate) with ``saturation`` (the non-VNNI proof and emulation) and ``int8`` (ship or
withdraw a zoo model's int8 file), ``register`` (one registration path, one atomic registry
write), ``cards`` with ``cards_pixels`` (model cards and generated doc blocks), ``smoke`` (the
contract-exercising checkpoints) and ``zoo`` (train the whole shipped zoo).
"""
