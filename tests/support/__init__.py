"""Test support: generated clips, ONNX model builders, fixtures (never imported by src/)."""
